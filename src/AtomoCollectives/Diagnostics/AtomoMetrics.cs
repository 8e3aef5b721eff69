using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace AtomoCollectives;

/// <summary>
/// The <c>System.Diagnostics.Metrics</c> instruments of the library, on the meter "AtomoCollectives"
/// (listen with dotnet-counters, OpenTelemetry or a <see cref="MeterListener"/>).
/// </summary>
public static class AtomoMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "AtomoCollectives";

    private static readonly Meter Meter = new(MeterName, "1.0");

    internal static readonly Counter<long> BytesSent = Meter.CreateCounter<long>("atomo.bytes_sent", "By", "Bytes this rank sent in collectives.");
    internal static readonly Counter<long> BytesReceived = Meter.CreateCounter<long>("atomo.bytes_received", "By", "Bytes this rank received in collectives.");
    internal static readonly Counter<long> DenseEquivalentBytes = Meter.CreateCounter<long>("atomo.dense_equivalent_bytes", "By", "Bytes a dense ring allreduce would have sent.");
    internal static readonly Counter<long> AtomsSent = Meter.CreateCounter<long>("atomo.atoms_sent", "{atom}", "Atoms this rank sent.");
    internal static readonly Counter<long> Tensors = Meter.CreateCounter<long>("atomo.tensors", "{tensor}", "Tensors averaged, tagged by route.");
    internal static readonly Histogram<double> EncodeSeconds = Meter.CreateHistogram<double>("atomo.encode.duration", "s", "Time to sparsify and encode one call's tensors.");
    internal static readonly Histogram<double> ExchangeSeconds = Meter.CreateHistogram<double>("atomo.exchange.duration", "s", "Time in collectives for one call.");
    internal static readonly Histogram<double> DecodeSeconds = Meter.CreateHistogram<double>("atomo.decode.duration", "s", "Time to decode and reconstruct one call's tensors.");

    /// <summary>Adds one completed call of any averager to the instruments, and logs it at Debug level.</summary>
    internal static void Record(AllreduceStatistics call, ILogger logger, long step)
    {
        BytesSent.Add(call.BytesSent);
        BytesReceived.Add(call.BytesReceived);
        DenseEquivalentBytes.Add(call.DenseEquivalentBytes);
        AtomsSent.Add(call.AtomsSent);
        Tensors.Add(call.CompressedTensors, new KeyValuePair<string, object?>("route", "compressed"));
        Tensors.Add(call.Tensors - call.CompressedTensors, new KeyValuePair<string, object?>("route", "dense"));
        EncodeSeconds.Record(call.EncodeSeconds);
        ExchangeSeconds.Record(call.ExchangeSeconds);
        DecodeSeconds.Record(call.DecodeSeconds);
        if (logger.IsEnabled(LogLevel.Debug))
        {
            logger.LogDebug(
                "Step {Step}: {Compressed}/{Tensors} tensors compressed, sent {Sent} B (dense {Dense} B, ratio {Ratio:F1}), encode {Encode:F4} s, exchange {Exchange:F4} s, decode {Decode:F4} s",
                step, call.CompressedTensors, call.Tensors, call.BytesSent, call.DenseEquivalentBytes, call.CompressionRatio, call.EncodeSeconds, call.ExchangeSeconds, call.DecodeSeconds);
        }
    }
}
