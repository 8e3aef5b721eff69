using System.Buffers;
using System.Diagnostics;
using System.Numerics.Tensors;
using AtomoCollectives.Decompositions;
using Microsoft.Extensions.Logging;

namespace AtomoCollectives;

/// <summary>
/// <see cref="AtomoAllreduce"/>'s node-aware call (<see cref="AtomoOptions.NodeAware"/>, docs/node-aware.md). The tensors
/// to compress are split between the node's k ranks, balanced by elements, and the dense ones cut into k slices; one
/// reduce-scatter over the node leaves each rank the node's sum of its tensors and of its slice. Each rank encodes its
/// tensors' node sums, allgathers the payloads over its rail (the one rank per node with its node-local rank), and
/// decodes every node's payload in node order, ÷ N; it sums its dense slice over the rail (with any of its tensors whose
/// payloads would not pay). Last, the node's ranks share what they decoded and summed. Each node's payload is an
/// unbiased estimate of its node's sum (its own random streams), so the result is an unbiased estimate of the mean; a
/// rail's members decode the same payloads in the same order and sum alike, and the sharing copies bits, so every rank
/// ends with the same bits.
/// <para>
/// Over many nodes (<see cref="AtomoOptions.NodeGroupSize"/>, <see cref="NodeGroups"/>) the rail's nodes form groups:
/// the payloads are allgathered within each group only; the group's leader (its first node) decodes their sum and
/// encodes it again from the group's own random streams; the leaders' payloads are allgathered over the whole rail, and
/// every member decodes those, in group order, ÷ N. A group's payload is an unbiased estimate of its decoded sum, which
/// is one of the group's sum, so the result stays an unbiased estimate of the mean; every member of a rail decodes the
/// same payloads in the same order, so the bits agree as before.
/// </para>
/// </summary>
/// <remarks>
/// Failures are raised on every rank at one of three points, and no rank writes its tensors before the last: the header
/// exchange (bad arguments, NaN, mismatched calls, as the flat call), the exchange of payload lengths (a failed encode
/// of a node sum), and the node's sharing of results, which carries each rail's count of failed decodes (with groups, a
/// leader's failed decode or encode of its group's sum counts as one, and its rail then decodes nothing).
/// </remarks>
internal sealed class NodeAwareExchange : IDisposable
{
    private readonly ICommunicator _world;
    private readonly NodeTopology _topology;
    private readonly AtomoOptions _options;
    private readonly AtomoCodec _codec;
    private readonly long _agreementHash;
    private readonly string _agreementName;
    private readonly ICommunicator? _group;
    private readonly int _groupSize;
    private readonly ArrayBufferWriter<byte> _payloads = new();
    private readonly ArrayBufferWriter<byte> _groupPayloads = new();
    private readonly NodeSharedBlocks? _sharedBlocks;
    private float[] _mine = [];
    private float[] _shared = [];
    private byte[] _received = [];

    private NodeAwareExchange(ICommunicator world, NodeTopology topology, int groupSize, AtomoOptions options, AtomoCodec codec, long agreementHash, string agreementName, ILogger logger)
    {
        _world = world;
        _topology = topology;
        (_group, _groupSize) = SplitRailIntoGroups(topology, groupSize);
        _sharedBlocks = NodeSharedBlocks.Open(world, topology.Node, logger);
        _options = options;
        _codec = codec;
        _agreementHash = agreementHash;
        _agreementName = agreementName;
    }

    /// <summary>
    /// The node-aware exchange an <see cref="AtomoAllreduce"/> uses from its first call on, or null for the flat one.
    /// Before grouping by node, the ranks exchange the call's header, so that a rank whose options differ raises with the
    /// others whichever exchange it was about to take; a failure leaves the choice to the next call.
    /// </summary>
    public static NodeAwareExchange? Resolve<TSet>(TSet tensors, long step, ICommunicator world, AtomoOptions options, AtomoCodec codec, long agreementHash, string agreementName, ILogger logger)
        where TSet : ITensorSet, allows ref struct
    {
        if (options.NodeAware == NodeAwareMode.Off || world.Size == 1)
        {
            return null;
        }

        if (world is INodeAwareCommunicator)
        {
            CallAgreement.Exchange(world, tensors.Error, tensors.Count, CallAgreement.ShapesHash(tensors), agreementHash, step, agreementName);
        }

        NodeTopology? topology = NodeTopology.ForMode(world, options.NodeAware, $"{nameof(AtomoOptions)}.{nameof(AtomoOptions.NodeAware)}");
        if (topology is null)
        {
            return null;
        }

        try
        {
            return new NodeAwareExchange(world, topology, NodeGroups.SizeFor(world, topology, options.NodeGroupSize), options, codec, agreementHash, agreementName, logger);
        }
        catch
        {
            topology.Dispose();
            throw;
        }
    }

    /// <summary>What the exchange is, for the log: nodes, ranks per node, and the groups.</summary>
    public string Description => $"{_topology.NodeCount} nodes of {_topology.Node.Size} ranks"
        + (_groupSize > 1 ? $", in {NodeGroups.CountFor(_topology.NodeCount, _groupSize)} groups of up to {_groupSize} nodes" : string.Empty);

    /// <summary>Whether the calls sum within the node through its shared memory (<see cref="NodeSharedBlocks"/>).</summary>
    public bool SharesMemory => _sharedBlocks is not null;

    public void Dispose()
    {
        _sharedBlocks?.Dispose();
        _group?.Dispose();
        _topology.Dispose();
    }

    /// <summary>
    /// The communicator of this rank's group of <paramref name="size"/> nodes on its rail, or none when the nodes form no
    /// groups (size 1). Collective over the rail; every rank decides alike.
    /// </summary>
    /// <exception cref="InvalidOperationException">Groups over a rail its transport cannot split (ours all can: the rail comes from the same splitter as the node).</exception>
    private static (ICommunicator? Group, int Size) SplitRailIntoGroups(NodeTopology topology, int size)
    {
        if (size <= 1)
        {
            return (null, 1);
        }

        ICommunicatorSplitter rail = topology.Rail as ICommunicatorSplitter
            ?? throw new InvalidOperationException($"Groups of {size} nodes need a rail that can be split, and {topology.Rail.GetType().Name} cannot.");
        return (rail.Split(topology.NodeIndex / size, topology.NodeIndex), size);
    }

    /// <summary>
    /// The node rank that encodes and decodes each tensor <paramref name="owned"/> selects (−1 for the others), into
    /// <paramref name="owners"/>: each goes to the node rank with the fewest elements so far, largest tensors first (ties
    /// to the lower tensor and the lower rank), the same on every rank from the sizes alone. The cost model plans with it.
    /// </summary>
    internal static void PlanOwners(IReadOnlyList<int> elements, Func<int, bool> owned, int ranksPerNode, Span<int> owners)
    {
        owners.Fill(-1);
        var load = new long[ranksPerNode];
        foreach (int t in Enumerable.Range(0, elements.Count).Where(owned).OrderByDescending(t => elements[t]).ThenBy(t => t))
        {
            int owner = 0;
            for (int l = 1; l < load.Length; l++)
            {
                owner = load[l] < load[owner] ? l : owner;
            }

            owners[t] = owner;
            load[owner] += elements[t];
        }
    }

    /// <summary>
    /// One call, as its phases; the tensors are written only by the commit. <paramref name="sketchFor"/> is the
    /// averager's warm start of a tensor position, <paramref name="routeBeforeEncoding"/> its policy of dense routes;
    /// <paramref name="shapesHash"/> is <see cref="CallAgreement.ShapesHash"/> of the tensors, for the header.
    /// </summary>
    public AllreduceStatistics Average<TSet>(TSet tensors, long step, long shapesHash, Func<int, SpectralSketch?> sketchFor, Func<TensorShape, long, TensorRoute> routeBeforeEncoding)
        where TSet : ITensorSet, allows ref struct
    {
        var call = new NodeCall(tensors.Count, step, _world.Size, _topology, _groupSize);
        var clock = Stopwatch.StartNew();
        Exception? localError = Check(tensors, call, routeBeforeEncoding);
        double encodeSeconds = AtomoAllreduce.Lap(clock);

        CallAgreement.Exchange(_world, localError, call.Count, shapesHash, _agreementHash, step, _agreementName);
        SumWithinNode(tensors, call);
        double exchangeSeconds = AtomoAllreduce.Lap(clock);

        Exception? encodeError = EncodeMine(call, sketchFor);
        encodeSeconds += AtomoAllreduce.Lap(clock);

        AgreeOnPayloads(call, encodeError);
        RouteDenseWhereCheaper(call);
        Exception? decodeError = null;
        double decodeSeconds = 0;
        bool railFailed = false;
        if (call.IsGrouped)
        {
            GatherInGroup(call);
            exchangeSeconds += AtomoAllreduce.Lap(clock);
            decodeError = call.IsGroupLeader ? RecompressGroup(call, sketchFor) : null;
            decodeSeconds += AtomoAllreduce.Lap(clock);
            railFailed = !AgreeOnGroupPayloads(call, decodeError);
        }

        if (!railFailed)
        {
            GatherOnRail(call);
        }

        exchangeSeconds += AtomoAllreduce.Lap(clock);
        decodeError ??= railFailed ? null : DecodeMine(call);
        decodeSeconds += AtomoAllreduce.Lap(clock);

        SumDenseOnRail(call, decodeError);
        ShareWithinNode(call, decodeError);
        exchangeSeconds += AtomoAllreduce.Lap(clock);

        TensorDecision[] decisions = Commit(tensors, call);
        decodeSeconds += AtomoAllreduce.Lap(clock);
        return CallStatistics(call, decisions, encodeSeconds, exchangeSeconds, decodeSeconds);
    }

    /// <summary>
    /// One call with every tensor dense, summed node-aware (<see cref="Exchange.DenseNode"/>): this rank's check of its
    /// arguments and values travels in the header, as in every call; then the node-aware dense sum of the tensors where
    /// they lie (<see cref="NodeAllreduce.SumTensors"/>), its mean copied into them. <paramref name="route"/> names each
    /// tensor's route in the decisions.
    /// </summary>
    public AllreduceStatistics AverageDense<TSet>(TSet tensors, long step, long shapesHash, Func<TensorShape, long, TensorRoute> route)
        where TSet : ITensorSet, allows ref struct
    {
        var clock = Stopwatch.StartNew();
        var decisions = new TensorDecision[tensors.Count];
        Exception? error = tensors.Error;
        long total = 0;
        for (int t = 0; t < decisions.Length && error is null; t++)
        {
            TensorShape shape = tensors.Shape(t);
            try
            {
                decisions[t] = new TensorDecision(t, shape, route(shape, step), _codec.DecompositionFor(shape), 0, 0);
                total += shape.ElementCount;
                Span<float> data = tensors.Get(t);
                error = data.Length != shape.ElementCount
                    ? CallAgreement.LengthMismatch(t, data.Length, shape)
                    : CallAgreement.NonFinite(t, shape, data, decisions[t].Route);
            }
            catch (Exception failure)
            {
                error = failure;   // raised on every rank through the header, like any failure before the exchange
            }
        }

        if (error is null && total > Array.MaxLength)
        {
            error = CallAgreement.TooManyElements(total);
        }

        double encodeSeconds = AtomoAllreduce.Lap(clock);
        CallAgreement.Exchange(_world, error, decisions.Length, shapesHash, _agreementHash, step, _agreementName);
        var traffic = new NodeTraffic();
        NodeSums sums = NodeAllreduce.SumTensors(_topology, _sharedBlocks, tensors, total, 1f / _world.Size, traffic, ref _shared);
        double exchangeSeconds = AtomoAllreduce.Lap(clock);
        sums.CopyTo(tensors);
        return traffic.Into(new AllreduceStatistics
        {
            Calls = 1,
            Tensors = decisions.Length,
            DenseEquivalentBytes = (long)AllreduceStatistics.RingAllreduceBytes(total, _world.Size),
            EncodeSeconds = encodeSeconds,
            ExchangeSeconds = exchangeSeconds,
            DecodeSeconds = AtomoAllreduce.Lap(clock),
            Decisions = decisions,
        });
    }

    /// <summary>
    /// This rank's arguments and values, every tensor (all are summed over the node before anything is encoded), and
    /// each tensor's route and owner. A failure is returned, to travel in the header exchange.
    /// </summary>
    private Exception? Check<TSet>(TSet tensors, NodeCall call, Func<TensorShape, long, TensorRoute> routeBeforeEncoding)
        where TSet : ITensorSet, allows ref struct
    {
        Exception? error = tensors.Error;
        for (int t = 0; t < call.Count && error is null; t++)
        {
            TensorShape shape = tensors.Shape(t);
            try
            {
                call.Add(t, shape, routeBeforeEncoding(shape, call.Step), _codec.DecompositionFor(shape));
                TestHooks.BeforeEncode?.Invoke(call.Step, t);
                Span<float> data = tensors.Get(t);
                error = data.Length != shape.ElementCount
                    ? CallAgreement.LengthMismatch(t, data.Length, shape)
                    : CallAgreement.NonFinite(t, shape, data, call.Routes[t]);
            }
            catch (ArgumentException failure)
            {
                error = new ArgumentException($"Tensor {t} {shape} cannot be compressed: {failure.Message}", nameof(tensors), failure);
            }
            catch (Exception failure)
            {
                error = failure;   // raised on every rank through the header, like any failure before the exchange
            }
        }

        if (error is null && call.TotalElements > Array.MaxLength)
        {
            error = CallAgreement.TooManyElements(call.TotalElements);
        }

        if (error is null)
        {
            call.Plan();
        }

        return error;
    }

    /// <summary>
    /// Reduce-scatters every tensor over the node, read in place through the layout of node rank blocks (its tensors,
    /// then its dense slice): <c>_mine</c> gets the node's sum of this rank's block. Through the node's shared memory
    /// where it has it for this call (<see cref="NodeSharedBlocks"/>), else its reduce-scatter.
    /// </summary>
    private void SumWithinNode<TSet>(TSet tensors, NodeCall call)
        where TSet : ITensorSet, allows ref struct
    {
        int[] counts = call.BlockCounts();
        Grow(ref _mine, counts[call.LocalRank] + 1L);
        call.SharesMemory = _sharedBlocks?.Reserve(counts) == true;
        if (call.SharesMemory)
        {
            _sharedBlocks!.ReduceScatter(new TensorBlocks<TSet>(tensors, call), counts, _mine, call.Traffic);
        }
        else
        {
            NodeAllreduce.ReduceScatter(_topology.Node, new TensorBlocks<TSet>(tensors, call), counts, _mine, call.Traffic);
        }
    }

    /// <summary>
    /// Encodes the node sums of this rank's tensors into <c>_payloads</c>, from the node's own random streams. A failure
    /// (the node's sum overflows float, a native library's error) is returned, to travel with the payload lengths.
    /// </summary>
    private Exception? EncodeMine(NodeCall call, Func<int, SpectralSketch?> sketchFor)
    {
        _payloads.ResetWrittenCount();
        int offset = 0;
        foreach (int t in call.Owned(call.LocalRank))
        {
            TensorShape shape = call.Shapes[t];
            ReadOnlySpan<float> sum = _mine.AsSpan(offset, shape.ElementCount);
            offset += shape.ElementCount;
            try
            {
                if (FiniteValues.IndexOfNonFinite(sum) is int bad and >= 0)
                {
                    return new ArgumentException($"Tensor {t} {shape}: the sum over node {call.NodeIndex}'s ranks holds {sum[bad]} at index {bad}: their values overflow float.", "tensors");
                }

                call.Lengths[t] = _codec.Encode(sum, shape, RandomStreams.NodeEncoder(_options.Seed, call.NodeIndex, call.Step, t), sketchFor(t), _payloads);
                call.Atoms[t] = _codec.LastAtomCount;
            }
            catch (ArgumentException failure)
            {
                return new ArgumentException($"Tensor {t} {shape}: the sum over node {call.NodeIndex}'s ranks cannot be compressed: {failure.Message}", "tensors", failure);
            }
            catch (Exception failure)
            {
                return failure;
            }
        }

        return null;
    }

    /// <summary>
    /// One world allgather of each rank's outcome, node, payload lengths and atom counts: a failed encode raises on
    /// every rank here, and every rank learns each node's payload of each tensor.
    /// </summary>
    private void AgreeOnPayloads(NodeCall call, Exception? encodeError)
    {
        int fields = 2 + (2 * call.Count);
        var mine = new int[fields];
        mine[0] = encodeError is null ? 0 : 1;
        mine[1] = call.NodeIndex;
        call.Lengths.CopyTo(mine, 2);
        call.Atoms.CopyTo(mine, 2 + call.Count);
        var all = new int[fields * _world.Size];
        _world.Allgather<int>(mine, all);
        int failed = 0;
        for (int r = 0; r < _world.Size; r++)
        {
            ReadOnlySpan<int> theirs = all.AsSpan(r * fields, fields);
            failed += theirs[0];
            for (int t = 0; t < call.Count; t++)
            {
                // A tensor has one owner per node; the others sent 0.
                call.NodeLengths[(theirs[1] * call.Count) + t] += theirs[2 + t];
                call.NodeAtoms[(theirs[1] * call.Count) + t] += theirs[2 + call.Count + t];
            }
        }

        CallAgreement.CheckOutcome(encodeError, failed, call.Step, "encode their node's sums");
    }

    /// <summary>
    /// Dense where the nodes' payloads would not pay between nodes: a node receives K − 1 payloads (with groups, those of
    /// its group and of the other groups: <see cref="NodeGroups.PayloadsReceived"/>), against the <c>2(K−1)/K</c> of the
    /// tensor that the dense route moves per node. The payloads are averaged over nodes, so every rank decides alike; the
    /// tensor stays with its owner, which sums it over its rail.
    /// </summary>
    private void RouteDenseWhereCheaper(NodeCall call)
    {
        if (!_options.DenseWhenCheaper)
        {
            return;
        }

        for (int t = 0; t < call.Count; t++)
        {
            if (call.Routes[t] == TensorRoute.Compressed)
            {
                double meanPayload = 0;
                for (int j = 0; j < call.NodeCount; j++)
                {
                    meanPayload += call.NodeLength(j, t) / (double)call.NodeCount;
                }

                if (NodeGroups.PayloadsReceived(call.NodeCount, call.GroupSize) * meanPayload >= AllreduceStatistics.RingAllreduceBytes(call.Shapes[t].ElementCount, call.NodeCount))
                {
                    call.Routes[t] = TensorRoute.DenseCheaper;
                }
            }
        }
    }

    /// <summary>
    /// The allgatherv within this rank's group (on its rail): its nodes' payloads of this rank's still-compressed
    /// tensors, in node and tensor order, into <c>_received</c>, for the group's leader to decode.
    /// </summary>
    private void GatherInGroup(NodeCall call)
    {
        int[] counts = new int[_group!.Size];
        for (int m = 0; m < counts.Length; m++)
        {
            foreach (int t in call.Owned(call.LocalRank, compressedOnly: true))
            {
                counts[m] = checked(counts[m] + call.NodeLength(call.FirstNodeOfGroup + m, t));
            }
        }

        int sent = PayloadExchange.Allgather(_group, _payloads.WrittenSpan, call.Lengths, call.Routes, counts, ref _received);
        call.Traffic.BetweenNodes(sent, counts.Sum(c => (long)c) - sent);
        call.GroupMemberCounts = counts;
    }

    /// <summary>
    /// On a group's leader: decodes the sum of the group's payloads of each of this rank's still-compressed tensors over
    /// their node sums in <c>_mine</c>, and encodes it again into <c>_groupPayloads</c> from the group's own random
    /// streams. A failure is returned: it travels with the group payload lengths, and its rail then decodes nothing.
    /// </summary>
    private Exception? RecompressGroup(NodeCall call, Func<int, SpectralSketch?> sketchFor)
    {
        _groupPayloads.ResetWrittenCount();
        if (call.GroupMemberCounts.Length == 1)
        {
            // A group of one node (the last, when G does not divide M): its payloads are its group's, as they are.
            _groupPayloads.Write(_payloads.WrittenSpan);
            call.Lengths.CopyTo(call.MyGroupLengths, 0);
            return null;
        }

        long[] memberOffsets = PayloadExchange.Starts(call.GroupMemberCounts);

        int offset = 0;
        foreach (int t in call.Owned(call.LocalRank))
        {
            TensorShape shape = call.Shapes[t];
            Span<float> sum = _mine.AsSpan(offset, shape.ElementCount);
            offset += shape.ElementCount;
            if (call.Routes[t] != TensorRoute.Compressed)
            {
                continue;   // its node sum stays in place, for the rail's dense sum
            }

            try
            {
                _codec.DecodeSum(_received, memberOffsets, call.NodeLengths.AsSpan((call.FirstNodeOfGroup * call.Count) + t), call.Count, sum, 1f);
                call.MyGroupLengths[t] = _codec.Encode(sum, shape, RandomStreams.GroupEncoder(_options.Seed, call.GroupIndex, call.Step, t), sketchFor(t), _groupPayloads);
            }
            catch (Exception failure) when (failure is ArgumentException or AtomoFormatException)
            {
                return new InvalidOperationException($"Tensor {t} {shape}: the sum over group {call.GroupIndex}'s nodes (from node {call.FirstNodeOfGroup}) cannot be compressed again: {failure.Message}", failure);
            }
            catch (Exception failure)
            {
                return failure;
            }
        }

        return null;
    }

    /// <summary>
    /// One rail allgather of each member's outcome and group payload lengths (the leaders', others send 0): every member
    /// learns each group's payload of each of its tensors, or that a leader failed. Returns false when one did; then the
    /// whole rail skips the gather and decode alike, and the leader's failure raises everywhere after the sharing.
    /// </summary>
    private bool AgreeOnGroupPayloads(NodeCall call, Exception? leaderError)
    {
        int fields = 1 + call.Count;
        var mine = new int[fields];
        mine[0] = leaderError is null ? 0 : 1;
        call.MyGroupLengths.CopyTo(mine, 1);
        var all = new int[fields * call.NodeCount];
        _topology.Rail.Allgather<int>(mine, all);
        bool failed = false;
        for (int g = 0; g < call.GroupCount; g++)
        {
            ReadOnlySpan<int> leader = all.AsSpan(g * call.GroupSize * fields, fields);
            failed |= leader[0] != 0;
            leader[1..].CopyTo(call.GroupLengths.AsSpan(g * call.Count, call.Count));
        }

        return !failed;
    }

    /// <summary>
    /// The rail's allgatherv of the payloads this rank decodes, into <c>_received</c>: every node's payloads of this
    /// rank's still-compressed tensors, in tensor order, or with groups every leader's.
    /// </summary>
    private void GatherOnRail(NodeCall call)
    {
        for (int s = 0; s < call.Senders; s++)
        {
            foreach (int t in call.Owned(call.LocalRank, compressedOnly: true))
            {
                int node = call.SenderNode(s);
                call.RailCounts[node] = checked(call.RailCounts[node] + call.SenderLength(s, t));
            }
        }

        bool sends = !call.IsGrouped || call.IsGroupLeader;
        ReadOnlySpan<byte> written = !sends ? default : call.IsGrouped ? _groupPayloads.WrittenSpan : _payloads.WrittenSpan;
        int sent = PayloadExchange.Allgather(_topology.Rail, written, call.IsGrouped ? call.MyGroupLengths : call.Lengths, call.Routes, call.RailCounts, ref _received);
        call.Traffic.BetweenNodes(sent, call.RailCounts.Sum(c => (long)c) - sent);
    }

    /// <summary>
    /// Decodes this rank's still-compressed tensors, every sender's payload in order (the nodes', or with groups the
    /// groups'), ÷ N, over what <c>_mine</c> holds (encoded, it is needed no more). A failure is returned, to be raised
    /// on every rank after the sharing.
    /// </summary>
    private Exception? DecodeMine(NodeCall call)
    {
        long[] nodeOffsets = PayloadExchange.Starts(call.RailCounts);

        var senderOffsets = new long[call.Senders];
        for (int s = 0; s < senderOffsets.Length; s++)
        {
            senderOffsets[s] = nodeOffsets[call.SenderNode(s)];
        }

        try
        {
            TestHooks.BeforeDecode?.Invoke(call.Step);
            int offset = 0;
            foreach (int t in call.Owned(call.LocalRank))
            {
                int elements = call.Shapes[t].ElementCount;
                if (call.Routes[t] == TensorRoute.Compressed)
                {
                    _codec.DecodeSum(_received, senderOffsets, call.SenderLengths.AsSpan(t), call.Count, _mine.AsSpan(offset, elements), 1f / call.WorldSize);
                }

                offset += elements;
            }
        }
        catch (Exception error)
        {
            return error;
        }

        return null;
    }

    /// <summary>
    /// Sums over the rail, ÷ N, what this rank holds densely: its tensors whose payloads would not pay (one allreduce
    /// when there are any, which every member of the rail decides alike), then its slice of the dense tensors with one
    /// more float, 1 when this rank's decode failed.
    /// </summary>
    private void SumDenseOnRail(NodeCall call, Exception? decodeError)
    {
        int[] rerouted = [.. call.Owned(call.LocalRank).Where(t => call.Routes[t] != TensorRoute.Compressed)];
        if (rerouted.Length > 0)
        {
            int total = rerouted.Sum(t => call.Shapes[t].ElementCount);
            float[] dense = ArrayPool<float>.Shared.Rent(total);
            try
            {
                CopyOwned(call, rerouted, dense, toMine: false);
                Span<float> sum = dense.AsSpan(0, total);
                Pieces.AllreduceSum(_topology.Rail, sum);
                TensorPrimitives.Multiply(sum, 1f / call.WorldSize, sum);
                CopyOwned(call, rerouted, dense, toMine: true);
                call.Traffic.BetweenNodes(AllreduceStatistics.RingAllreduceBytes(total, call.NodeCount));
            }
            finally
            {
                ArrayPool<float>.Shared.Return(dense);
            }
        }

        int length = call.Slice(call.LocalRank).Length;
        Span<float> sliceAndOutcome = _mine.AsSpan(call.OwnedElements(call.LocalRank), length + 1);
        sliceAndOutcome[^1] = decodeError is null ? 0f : 1f;
        Pieces.AllreduceSum(_topology.Rail, sliceAndOutcome);
        call.Traffic.BetweenNodes(AllreduceStatistics.RingAllreduceBytes(length, call.NodeCount));
        TensorPrimitives.Multiply(sliceAndOutcome[..length], 1f / call.WorldSize, sliceAndOutcome[..length]);
    }

    /// <summary>Copies this rank's tensors <paramref name="which"/> (in tensor order) between their places in <c>_mine</c> and the front of <paramref name="packed"/>.</summary>
    private void CopyOwned(NodeCall call, int[] which, float[] packed, bool toMine)
    {
        int offset = 0, at = 0, next = 0;
        foreach (int t in call.Owned(call.LocalRank))
        {
            int elements = call.Shapes[t].ElementCount;
            if (next < which.Length && which[next] == t)
            {
                Span<float> place = _mine.AsSpan(offset, elements), copy = packed.AsSpan(at, elements);
                (toMine ? copy : place).CopyTo(toMine ? place : copy);
                at += elements;
                next++;
            }

            offset += elements;
        }
    }

    /// <summary>
    /// The node's ranks share their blocks (their tensors' results, their slices of the dense sum), each followed by its
    /// rail's count of failed decodes, which add up to the world's on every rank: a failed decode anywhere raises
    /// everywhere here. Through the shared memory the call summed in, else an allgather into <c>_shared</c>.
    /// </summary>
    private void ShareWithinNode(NodeCall call, Exception? decodeError)
    {
        int[] counts = [.. call.BlockCounts().Select(c => c + 1)];
        long total = counts.Sum(c => (long)c);
        ReadOnlySpan<float> mine = _mine.AsSpan(0, counts[call.LocalRank]);
        if (call.SharesMemory)
        {
            _sharedBlocks!.Share(mine, total, call.Traffic);
        }
        else
        {
            Grow(ref _shared, total);
            NodeAllreduce.Share(_topology.Node, mine, counts, _shared, call.Traffic);
        }

        float failed = 0;
        for (int l = 0; l < counts.Length; l++)
        {
            failed += SharedBlock(call, l, counts[l])[^1];
        }

        CallAgreement.CheckOutcome(decodeError, failed, call.Step, "decode the payloads");
    }

    /// <summary>Node rank <paramref name="rank"/>'s shared block, its first <paramref name="length"/> floats (after <see cref="ShareWithinNode"/>).</summary>
    private ReadOnlySpan<float> SharedBlock(NodeCall call, int rank, int length)
    {
        if (call.SharesMemory)
        {
            return _sharedBlocks!.Result(rank, length);
        }

        long offset = 0;
        for (int l = 0; l < rank; l++)
        {
            offset += call.Block(l) + 1;   // and the rail's count of failed decodes
        }

        return _shared.AsSpan((int)offset, length);
    }

    /// <summary>Copies the shared results into the caller's tensors and says what each tensor took.</summary>
    private TensorDecision[] Commit<TSet>(TSet tensors, NodeCall call)
        where TSet : ITensorSet, allows ref struct
    {
        for (int l = 0; l < call.RanksPerNode; l++)
        {
            int block = call.Block(l);
            ReadOnlySpan<float> results = SharedBlock(call, l, block);
            foreach ((int t, int from, int position, int count) in call.SegmentsOf(l, 0, block))
            {
                results.Slice(position, count).CopyTo(tensors.Get(t).Slice(from, count));
            }
        }

        var decisions = new TensorDecision[call.Count];
        for (int t = 0; t < call.Count; t++)
        {
            bool compressed = call.Routes[t] == TensorRoute.Compressed;
            decisions[t] = new TensorDecision(t, call.Shapes[t], call.Routes[t], call.Decompositions[t],
                compressed ? call.NodeLength(call.NodeIndex, t) : 0, compressed ? call.NodeAtom(call.NodeIndex, t) : 0);
        }

        return decisions;
    }

    /// <summary>This call's traffic, within the node and between nodes, and times.</summary>
    private static AllreduceStatistics CallStatistics(NodeCall call, TensorDecision[] decisions, double encodeSeconds, double exchangeSeconds, double decodeSeconds)
        => call.Traffic.Into(new AllreduceStatistics
        {
            Calls = 1,
            Tensors = call.Count,
            CompressedTensors = decisions.Count(d => d.Route == TensorRoute.Compressed),
            DenseEquivalentBytes = (long)AllreduceStatistics.RingAllreduceBytes(call.TotalElements, call.WorldSize),
            AtomsSent = call.Owned(call.LocalRank, compressedOnly: true).Sum(t => (long)call.Atoms[t]),
            EncodeSeconds = encodeSeconds,
            ExchangeSeconds = exchangeSeconds,
            DecodeSeconds = decodeSeconds,
            Decisions = decisions,
        });

    private static void Grow(ref float[] buffer, long elements)
    {
        if (buffer.Length < elements)
        {
            buffer = new float[elements];
        }
    }

    /// <summary>
    /// What one node-aware call carries from phase to phase, and its layout: node rank l's block is its tensors (those
    /// routed to compression before encoding, in tensor order), then its slice of the other tensors' concatenation.
    /// </summary>
    private sealed class NodeCall(int count, long step, int worldSize, NodeTopology topology, int groupSize)
    {
        public int Count { get; } = count;

        public long Step { get; } = step;

        public int WorldSize { get; } = worldSize;

        public int NodeCount { get; } = topology.NodeCount;

        public int NodeIndex { get; } = topology.NodeIndex;

        public int RanksPerNode { get; } = topology.Node.Size;

        public int LocalRank { get; } = topology.Node.Rank;

        /// <summary>Whether this call sums and shares within the node through its shared memory (<see cref="NodeSharedBlocks"/>).</summary>
        public bool SharesMemory { get; set; }

        public TensorShape[] Shapes { get; } = new TensorShape[count];

        /// <summary>Each tensor's route: set by the check, and made dense where compression would not pay.</summary>
        public TensorRoute[] Routes { get; } = new TensorRoute[count];

        public Decomposition[] Decompositions { get; } = new Decomposition[count];

        /// <summary>The node rank that encodes and decodes each tensor routed to compression before encoding (−1 for the others).</summary>
        public int[] Owners { get; } = new int[count];

        /// <summary>This rank's payload length per tensor (0 for tensors it does not own).</summary>
        public int[] Lengths { get; } = new int[count];

        public int[] Atoms { get; } = new int[count];

        /// <summary>Each node's payload length per tensor, node by node.</summary>
        public int[] NodeLengths { get; } = new int[count * topology.NodeCount];

        public int[] NodeAtoms { get; } = new int[count * topology.NodeCount];

        /// <summary>Bytes each node contributes to this rank's rail allgatherv.</summary>
        public int[] RailCounts { get; } = new int[topology.NodeCount];

        /// <summary>Nodes per group (<see cref="NodeGroups"/>); 1 when the nodes form no groups.</summary>
        public int GroupSize { get; } = groupSize;

        public bool IsGrouped => GroupSize > 1;

        public int GroupCount { get; } = NodeGroups.CountFor(topology.NodeCount, groupSize);

        public int GroupIndex { get; } = topology.NodeIndex / groupSize;

        public int FirstNodeOfGroup => GroupIndex * GroupSize;

        /// <summary>Whether this rank's node leads its group: it decodes the group's sum and encodes it again.</summary>
        public bool IsGroupLeader => NodeIndex == FirstNodeOfGroup;

        /// <summary>Bytes each node of this rank's group contributes to the group's allgatherv.</summary>
        public int[] GroupMemberCounts { get; set; } = [];

        /// <summary>The group payload length per tensor this rank encoded as its group's leader (0 for the others).</summary>
        public int[] MyGroupLengths { get; } = new int[count];

        /// <summary>Each group's payload length per tensor, group by group.</summary>
        public int[] GroupLengths { get; } = new int[count * NodeGroups.CountFor(topology.NodeCount, groupSize)];

        /// <summary>Whose payloads the rail's allgatherv carries and every rank decodes: the nodes', or with groups the groups'.</summary>
        public int Senders => IsGrouped ? GroupCount : NodeCount;

        /// <summary>The node (rail rank) that sends sender <paramref name="sender"/>'s payloads: with groups, the group's leader.</summary>
        public int SenderNode(int sender) => sender * GroupSize;

        /// <summary>The senders' payload lengths per tensor, sender by sender.</summary>
        public int[] SenderLengths => IsGrouped ? GroupLengths : NodeLengths;

        public int SenderLength(int sender, int tensor) => SenderLengths[(sender * Count) + tensor];

        public long TotalElements { get; private set; }

        /// <summary>Elements of the tensors routed dense before encoding, which the node's ranks carry in slices.</summary>
        public long DenseElements { get; private set; }

        public NodeTraffic Traffic { get; } = new();

        public int NodeLength(int node, int tensor) => NodeLengths[(node * Count) + tensor];

        public int NodeAtom(int node, int tensor) => NodeAtoms[(node * Count) + tensor];

        /// <summary>Records tensor <paramref name="t"/> as the check reads it.</summary>
        public void Add(int t, TensorShape shape, TensorRoute route, Decomposition decomposition)
        {
            Shapes[t] = shape;
            Routes[t] = route;
            Decompositions[t] = decomposition;
            TotalElements += shape.ElementCount;
        }

        /// <summary>Gives each tensor routed to compression to a node rank (<see cref="PlanOwners"/>).</summary>
        public void Plan()
        {
            PlanOwners([.. Shapes.Select(shape => shape.ElementCount)], t => Routes[t] == TensorRoute.Compressed, RanksPerNode, Owners);
            DenseElements = Enumerable.Range(0, Count).Where(t => Owners[t] < 0).Sum(t => (long)Shapes[t].ElementCount);
        }

        /// <summary>Node rank <paramref name="owner"/>'s tensors, in tensor order; with <paramref name="compressedOnly"/>, those still routed to compression.</summary>
        public IEnumerable<int> Owned(int owner, bool compressedOnly = false)
        {
            for (int t = 0; t < Count; t++)
            {
                if (Owners[t] == owner && (!compressedOnly || Routes[t] == TensorRoute.Compressed))
                {
                    yield return t;
                }
            }
        }

        public int OwnedElements(int owner) => Owned(owner).Sum(t => Shapes[t].ElementCount);

        /// <summary>Node rank <paramref name="owner"/>'s slice of the dense tensors' concatenation.</summary>
        public (int Start, int Length) Slice(int owner) => NodeAllreduce.Slice(DenseElements, RanksPerNode, owner);

        /// <summary>Elements of node rank <paramref name="owner"/>'s block.</summary>
        public int Block(int owner) => OwnedElements(owner) + Slice(owner).Length;

        public int[] BlockCounts() => [.. Enumerable.Range(0, RanksPerNode).Select(Block)];

        /// <summary>
        /// The elements <c>[from, from + length)</c> of node rank <paramref name="block"/>'s block, as runs of tensors in
        /// order: each run's tensor, where it starts in the tensor and in the range, and its length. A block is the rank's
        /// tensors, then its slice of the dense tensors' concatenation.
        /// </summary>
        public IEnumerable<(int Tensor, int From, int Position, int Count)> SegmentsOf(int block, int from, int length)
        {
            int position = 0;   // where the tensor or run starts in the block
            foreach (int t in Owned(block))
            {
                int elements = Shapes[t].ElementCount;
                int start = Math.Max(from, position), end = Math.Min(from + length, position + elements);
                if (start < end)
                {
                    yield return (t, start - position, start - from, end - start);
                }

                position += elements;
            }

            if (from + length > position)
            {
                (int sliceStart, _) = Slice(block);
                int skip = Math.Max(0, from - position);
                foreach ((int t, int tensorFrom, int runPosition, int count) in DenseRuns(sliceStart + skip, from + length - Math.Max(from, position)))
                {
                    yield return (t, tensorFrom, Math.Max(0, position - from) + runPosition, count);
                }
            }
        }

        /// <summary>
        /// The runs of elements <c>[start, start + length)</c> of the dense tensors' concatenation, in order: each run's
        /// tensor, where it starts in the tensor and in the range, and its length.
        /// </summary>
        public IEnumerable<(int Tensor, int From, int Position, int Count)> DenseRuns(long start, int length)
        {
            long position = 0;
            for (int t = 0; t < Count && position < start + length; t++)
            {
                if (Owners[t] >= 0)
                {
                    continue;
                }

                int elements = Shapes[t].ElementCount;
                long from = Math.Max(start, position), to = Math.Min(start + length, position + elements);
                if (from < to)
                {
                    yield return (t, (int)(from - position), (int)(from - start), (int)(to - from));
                }

                position += elements;
            }
        }
    }

    /// <summary>A node-aware call's tensors, read as its node ranks' blocks (the layout of <see cref="NodeCall"/>).</summary>
    private readonly ref struct TensorBlocks<TSet>(TSet tensors, NodeCall call) : INodeBlocks
        where TSet : ITensorSet, allows ref struct
    {
        private readonly TSet _tensors = tensors;

        public void Read(int block, int from, Span<float> destination)
        {
            foreach ((int t, int tensorFrom, int position, int count) in call.SegmentsOf(block, from, destination.Length))
            {
                _tensors.Get(t).Slice(tensorFrom, count).CopyTo(destination.Slice(position, count));
            }
        }
    }
}
