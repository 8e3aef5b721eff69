namespace AtomoCollectives;

/// <summary>
/// Every random stream the library draws from, by name, and how its seed derives from the run's seed: the one place
/// to see that no two uses share a stream. Streams are SplitMix64 derivations (<see cref="SeedSequence"/>) fed to
/// <see cref="RandomStream"/> or <see cref="Gaussian"/>; the constants only separate streams (their bits are ASCII
/// tags or digits of π and e) and are part of what makes a run repeat bit for bit, so they never change.
/// </summary>
internal static class RandomStreams
{
    /// <summary>A rank number no rank has: streams every rank draws alike (PowerSGD's initial Q), none of them one a per-rank stream uses.</summary>
    private const int SharedRank = -1;

    /// <summary>The encoder's stream for one tensor of one rank at one step: its sketch (<see cref="Sketch"/>) and its draw (<see cref="Draw"/>) derive from it.</summary>
    public static ulong Encoder(ulong seed, int rank, long step, int tensor) => SeedSequence.Derive(seed, rank, step, tensor);

    /// <summary>
    /// The node-aware exchange's encoder stream for one tensor of one node at one step (one rank per node encodes a
    /// tensor's node sum): apart from <see cref="Encoder"/>, whose ranks are numbered like nodes.
    /// </summary>
    public static ulong NodeEncoder(ulong seed, int node, long step, int tensor) => SeedSequence.Derive(seed ^ 0x4E6F64652D617761UL, node, step, tensor); // "Node-awa"

    /// <summary>
    /// The encoder stream of the node-aware exchange's middle level for one tensor of one group of nodes at one step
    /// (the group's leader compresses the group's decoded sum again): apart from <see cref="NodeEncoder"/>, so that the
    /// second compression's randomness is independent of the first's.
    /// </summary>
    public static ulong GroupEncoder(ulong seed, int group, long step, int tensor) => SeedSequence.Derive(seed ^ 0x4E6F64652D677270UL, group, step, tensor); // "Node-grp"

    /// <summary>The same stream on every rank for one tensor at one step (PowerSGD's initial Q).</summary>
    public static ulong Shared(ulong seed, long step, int tensor) => SeedSequence.Derive(seed, SharedRank, step, tensor);

    /// <summary>The draw of the atoms, from an encoder seed (independent of the sketch, which takes the encoder seed itself).</summary>
    public static ulong Draw(ulong encoderSeed) => SeedSequence.Mix(encoderSeed ^ 0x5A4D504C494E47UL); // "ZMPLING"

    /// <summary>The draw of a spectral residual's entries, independent of the rank-1 atoms' draw it derives from.</summary>
    public static ulong Residual(ulong drawSeed) => SeedSequence.Mix(drawSeed ^ 0x5245534944554C53UL); // "RESIDULS"

    /// <summary>The random signs and table offset of <see cref="Gaussian.Fill"/>, from the seed its caller passes.</summary>
    public static ulong Sketch(ulong seed) => seed ^ 0x5851F42D4C957F2DUL;

    /// <summary>
    /// The Examples' training data order for one epoch (a <see cref="System.Random"/> seed). It coincides with
    /// <see cref="Encoder"/>(seed, rank 0, step = epoch, tensor 0) when a run gives both the same seed: rank 0's first
    /// tensor at step e is drawn from the bits that shuffled epoch e. Found when these streams were gathered here; kept,
    /// because changing it changes every training run recorded in the README and docs, and the overlap couples
    /// one tensor's draw at one step per epoch with the data order, not any estimate's expectation.
    /// </summary>
    public static ulong DataOrder(ulong seed, long epoch) => SeedSequence.Derive(seed, 0, epoch, 0);

    /// <summary>The Examples' synthetic gradients of one rank (benchmarks): coincides with <see cref="Encoder"/> at step 0, as <see cref="DataOrder"/> does.</summary>
    public static ulong SyntheticGradient(ulong seed, int rank, int tensor) => SeedSequence.Derive(seed, rank, 0, tensor);
}
