namespace AtomoCollectives.Tests.Transport;

/// <summary>
/// The transport contract measures retained managed memory and working set across 1,000 calls; tests running in
/// parallel in the same process would allocate into that measurement, so this collection runs alone.
/// </summary>
[CollectionDefinition("Transport", DisableParallelization = true)]
public sealed class TransportCollection;
