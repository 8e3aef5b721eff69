using System.Diagnostics;
using System.Numerics.Tensors;
using AtomoCollectives.Examples.Hosting;
using AtomoCollectives.Examples.Models;
using Microsoft.Extensions.Logging;

namespace AtomoCollectives.Examples.Training;

/// <summary>Traffic and time of gradient averaging, per rank (the definitions of <see cref="AllreduceStatistics"/>).</summary>
internal readonly record struct ExchangeTotals(long BytesSent, long BytesReceived, long DenseEquivalentBytes, double EncodeSeconds, double ExchangeSeconds, double DecodeSeconds)
{
    public static ExchangeTotals operator +(ExchangeTotals a, ExchangeTotals b) => new(
        a.BytesSent + b.BytesSent, a.BytesReceived + b.BytesReceived, a.DenseEquivalentBytes + b.DenseEquivalentBytes,
        a.EncodeSeconds + b.EncodeSeconds, a.ExchangeSeconds + b.ExchangeSeconds, a.DecodeSeconds + b.DecodeSeconds);

    /// <summary>What a ring allreduce of <paramref name="elements"/> floats sends from each of <paramref name="ranks"/> ranks.</summary>
    public static long RingAllreduceBytes(long elements, int ranks) => ranks == 1 ? 0 : (long)(2.0 * (ranks - 1) / ranks * 4.0 * elements);
}

/// <summary>Replaces every rank's gradients by their average over the ranks; every rank ends with the same bits.</summary>
internal abstract class GradientAverager : IDisposable
{
    /// <summary>Traffic and time summed over all calls so far.</summary>
    public ExchangeTotals Totals { get; protected set; }

    public static GradientAverager Create(Compressor compressor, ICommunicator world, ulong seed)
    {
        AtomoOptions? options = compressor.ToAtomoOptions(seed);
        return compressor.Kind switch
        {
            CompressorKind.Dense => new DenseAverager(world),
            CompressorKind.Qsgd => new QsgdAverager(world, compressor.Bits, Compressor.BucketSize, seed),
            _ => new AtomoAverager(world, options!),
        };
    }

    public abstract void Average(ParameterStore parameters);

    public virtual void Dispose()
    {
    }
}

/// <summary>The baseline: one <c>MPI_Allreduce</c> (sum) of the flat gradient buffer, then divide by N.</summary>
internal sealed class DenseAverager(ICommunicator world) : GradientAverager
{
    public override void Average(ParameterStore parameters)
    {
        long start = Stopwatch.GetTimestamp();
        world.AllreduceSum(parameters.Gradients);
        TensorPrimitives.Multiply(parameters.Gradients, 1f / world.Size, parameters.Gradients);
        long bytes = ExchangeTotals.RingAllreduceBytes(parameters.Length, world.Size);
        Totals += new ExchangeTotals(bytes, bytes, bytes, 0, Stopwatch.GetElapsedTime(start).TotalSeconds, 0);
    }
}

/// <summary>ATOMO (and TernGrad, a special case): the library's fused <see cref="AtomoAllreduce"/> over all parameters.</summary>
internal sealed class AtomoAverager : GradientAverager
{
    private readonly AtomoAllreduce _allreduce;
    private Memory<float>[] _gradients = [];
    private TensorShape[] _shapes = [];

    public AtomoAverager(ICommunicator world, AtomoOptions options)
    {
        _allreduce = new AtomoAllreduce(world, options, ExampleLogging.Factory.CreateLogger<AtomoAllreduce>());
    }

    public override void Average(ParameterStore parameters)
    {
        if (_gradients.Length != parameters.Parameters.Count)
        {
            _gradients = [.. parameters.Parameters.Select(p => p.Gradient)];
            _shapes = [.. parameters.Parameters.Select(p => p.Shape)];
        }

        _allreduce.Average(_gradients, _shapes);
        AllreduceStatistics s = _allreduce.Statistics;
        Totals = new ExchangeTotals(s.BytesSent, s.BytesReceived, s.DenseEquivalentBytes, s.EncodeSeconds, s.ExchangeSeconds, s.DecodeSeconds);
    }

    public override void Dispose() => _allreduce.Dispose();
}
