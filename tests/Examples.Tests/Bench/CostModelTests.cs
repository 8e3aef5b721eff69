using AtomoCollectives.Examples.Bench;

namespace AtomoCollectives.Examples.Tests.Bench;

/// <summary>The α–β formulas of <see cref="CostModel"/>, the fit, and the library's dense rule as the model applies it.</summary>
public class CostModelTests
{
    private static readonly LinkParameters PerRank = new(Alpha: 1e-5, Beta: 1e-9, LinkSharing.PerRank);
    private static readonly LinkParameters Shared = PerRank with { Sharing = LinkSharing.Shared };

    [Fact]
    public void RingAllreduceIsTwoNMinusOneAlphaPlusTwoNMinusOneOverNBytesBeta()
    {
        // N = 4, 1 MB: 2·3·10 µs + 2·3/4·1e6 B·1 ns/B = 60 µs + 1.5 ms.
        Assert.Equal(60e-6 + 1.5e-3, CostModel.RingAllreduce(4, 1e6, PerRank), 12);
    }

    [Fact]
    public void AllgatherIsNMinusOneAlphaPlusNMinusOnePayloadsBeta()
    {
        // N = 8, 10 kB payloads: 7·10 µs + 7·1e4 B·1 ns/B.
        Assert.Equal(70e-6 + 70e-6, CostModel.Allgather(8, 1e4, PerRank), 12);
    }

    [Fact]
    public void OneRankCommunicatesNothing()
    {
        Assert.Equal(0, CostModel.RingAllreduce(1, 1e6, PerRank));
        Assert.Equal(0, CostModel.Allgather(1, 1e6, PerRank));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void ASharedLinkMultipliesEveryByteTermByN(int ranks)
    {
        double bytes = 4e6;
        double ringBytesTerm = CostModel.RingAllreduce(ranks, bytes, PerRank) - (2.0 * (ranks - 1) * PerRank.Alpha);
        double sharedBytesTerm = CostModel.RingAllreduce(ranks, bytes, Shared) - (2.0 * (ranks - 1) * PerRank.Alpha);
        Assert.Equal(ranks * ringBytesTerm, sharedBytesTerm, 12);
        Assert.Equal(ranks * PerRank.Beta, Shared.EffectiveBeta(ranks), 15);
    }

    [Fact]
    public void AllgatherGrowsWithNWhileTheRingStaysBounded()
    {
        // The reason dense wins at scale: per rank, the ring's bytes tend to 2n, the allgather's grow as (N−1)·payload.
        double dense = 4e7, payload = 1e6;
        Assert.True(CostModel.Allgather(8, payload, PerRank) < CostModel.RingAllreduce(8, dense, PerRank));
        Assert.True(CostModel.Allgather(1024, payload, PerRank) > CostModel.RingAllreduce(1024, dense, PerRank));
    }

    [Theory]
    [InlineData(2, 999.0, false)]    // threshold at N = 2: payload ≥ dense bytes (4·250 = 1000)
    [InlineData(2, 1000.0, true)]
    [InlineData(4, 499.0, false)]    // N = 4: payload ≥ dense/2
    [InlineData(4, 500.0, true)]
    [InlineData(1024, 1.9, false)]   // N = 1024: payload ≥ 2/1024 of dense ≈ 1.95 B
    [InlineData(1024, 2.0, true)]
    public void GoesDenseFollowsTheLibraryRule(int ranks, double payloadBytes, bool dense)
    {
        Assert.Equal(dense, CostModel.GoesDense(ranks, payloadBytes, elements: 250));
    }

    [Fact]
    public void DensePredictionIsOneRingPerTensorPlusTheDivide()
    {
        int[] elements = [1000, 250_000];
        StepPrediction p = CostModel.Dense(4, elements, PerRank, divideSeconds: 1e-3);
        Assert.Equal(0, p.Encode);
        Assert.Equal(CostModel.RingAllreduce(4, 4e3, PerRank) + CostModel.RingAllreduce(4, 1e6, PerRank), p.Exchange, 12);
        Assert.Equal(1e-3, p.Decode, 12);
    }

    [Fact]
    public void AtomoPredictionAddsEncodeHeadersPayloadsDenseRemainderAndDecodeOfNPayloads()
    {
        var profile = new AtomoProfile("x", [new TensorProfile(1_000_000, 10_000, true), new TensorProfile(512, 0, false)],
            EncodeSeconds: 0.02, DecodeFixedSeconds: 0.001, DecodePerRankSeconds: 0.002);
        StepPrediction p = CostModel.Atomo(4, profile, PerRank);
        double expectedExchange = (2.0 * 3 * PerRank.Alpha) + CostModel.Allgather(4, 10_000, PerRank) + CostModel.RingAllreduce(4, 4.0 * 512, PerRank);
        Assert.Equal(0.02, p.Encode, 12);
        Assert.Equal(expectedExchange, p.Exchange, 12);
        Assert.Equal(0.001 + (4 * 0.002), p.Decode, 12);   // fixed part + 4 payloads
        Assert.Equal(p.Encode + p.Exchange + p.Decode, p.Total, 12);
    }

    [Fact]
    public void AtomoDegradesToDensePlusEncodeWhenEveryTensorFlips()
    {
        // At N = 1024 a payload of 1 % of the tensor is above 2/N of it: everything goes dense, nothing is decoded.
        var profile = new AtomoProfile("x", [new TensorProfile(1_000_000, 40_000, true)], EncodeSeconds: 0.02, DecodeFixedSeconds: 0.001, DecodePerRankSeconds: 0.002);
        StepPrediction p = CostModel.Atomo(1024, profile, PerRank);
        Assert.Equal(0, p.Decode);
        // Header and lengths allgathers, the (empty) payload allgatherv the library still makes, and the dense ring.
        Assert.Equal((3.0 * 1023 * PerRank.Alpha) + CostModel.RingAllreduce(1024, 4e6, PerRank), p.Exchange, 12);
    }

    [Fact]
    public void ComputeScaleMultipliesEncodeAndDecodeOnly()
    {
        var profile = new AtomoProfile("x", [new TensorProfile(1_000_000, 10_000, true)], EncodeSeconds: 0.02, DecodeFixedSeconds: 0.001, DecodePerRankSeconds: 0.002);
        StepPrediction one = CostModel.Atomo(8, profile, Shared);
        StepPrediction four = CostModel.Atomo(8, profile, Shared, computeScale: 4);
        Assert.Equal(4 * one.Encode, four.Encode, 12);
        Assert.Equal(4 * one.Decode, four.Decode, 12);
        Assert.Equal(one.Exchange, four.Exchange, 12);
    }

    [Fact]
    public void DecodeLinePassesThroughBothTimings()
    {
        (double fixedPart, double perRank) = AtomoProfile.DecodeLine(2, 0.005, 8, 0.011);
        Assert.Equal(0.001, perRank, 12);
        Assert.Equal(0.003, fixedPart, 12);
        Assert.Equal((0.0, 0.0), AtomoProfile.DecodeLine(2, 0, 8, 0));
        Assert.Equal(0.0, AtomoProfile.DecodeLine(2, 0.005, 8, 0.004).PerRank);   // timing noise never makes it negative
    }

    [Fact]
    public void FusedDenseIsOneRingOverAllTensors()
    {
        int[] elements = [1000, 250_000];
        StepPrediction fused = CostModel.Dense(8, elements, PerRank, fused: true);
        Assert.Equal(CostModel.RingAllreduce(8, 4.0 * 251_000, PerRank), fused.Exchange, 12);
        Assert.True(fused.Exchange < CostModel.Dense(8, elements, PerRank).Exchange);   // one latency term instead of two
    }

    [Fact]
    public void BetaFromDenseStepsAtSeveralNRecoversTheSharedLink()
    {
        var truth = new LinkParameters(Alpha: 20e-6, Beta: 8e-9, LinkSharing.Shared);
        int[] elements = [64 * 3 * 49, 512 * 4608, 1000];
        (int, double, double)[] steps = [.. new[] { 2, 4, 8 }.Select(n => (n, CostModel.Dense(n, elements, truth, divideSeconds: 0.004).Total, 0.004))];
        Assert.Equal(truth.Beta, CostModel.FitBetaFromDenseSteps(steps, elements, truth.Alpha, LinkSharing.Shared).Beta, 15);
        Assert.Throws<ArgumentException>(() => CostModel.FitBetaFromDenseSteps([(1, 1.0, 0.0)], elements, 0, LinkSharing.Shared));
    }

    [Theory]
    [InlineData(false, 2)]
    [InlineData(true, 4)]
    public void BetaFromADenseStepInvertsTheDensePrediction(bool shared, int ranks)
    {
        LinkSharing sharing = shared ? LinkSharing.Shared : LinkSharing.PerRank;
        var truth = new LinkParameters(Alpha: 20e-6, Beta: 8e-9, sharing);
        int[] elements = [64 * 3 * 49, 512 * 4608, 1000];
        double step = CostModel.Dense(ranks, elements, truth, divideSeconds: 0.004).Total;
        LinkParameters fitted = CostModel.FitBetaFromDense(ranks, elements, step, 0.004, truth.Alpha, sharing);
        Assert.Equal(truth.Beta, fitted.Beta, 15);
    }

    [Theory]
    [InlineData(false, 2)]
    [InlineData(true, 2)]
    [InlineData(true, 4)]
    public void FitRecoversAlphaAndBetaFromExactRingTimings(bool shared, int ranks)
    {
        LinkSharing sharing = shared ? LinkSharing.Shared : LinkSharing.PerRank;
        var truth = new LinkParameters(Alpha: 25e-6, Beta: 8e-9, sharing);
        (double, double)[] points = [.. CollectiveBench.CalibrationFloats.Select(f => (4.0 * f, CostModel.RingAllreduce(ranks, 4.0 * f, truth)))];
        LinkParameters fitted = CostModel.Fit(ranks, points, sharing);
        Assert.Equal(truth.Alpha, fitted.Alpha, 9);
        Assert.Equal(truth.Beta, fitted.Beta, 14);
        Assert.Equal(sharing, fitted.Sharing);
    }

    [Theory]
    [InlineData("1gbit", 1e9)]
    [InlineData("10gbit", 1e10)]
    [InlineData("25Gbit", 2.5e10)]
    [InlineData("500mbit", 5e8)]
    [InlineData("2.5gbit", 2.5e9)]
    public void ParseRateReadsTcRates(string text, double bitsPerSecond)
    {
        Assert.Equal(bitsPerSecond, CostModel.ParseRate(text));
    }

    [Theory]
    [InlineData("fast")]
    [InlineData("gbit")]
    [InlineData("-1gbit")]
    public void ParseRateRejectsNonRates(string text)
    {
        Assert.Throws<FormatException>(() => CostModel.ParseRate(text));
    }

    [Fact]
    public void WinRangeNamesWhereAtomoIsFaster()
    {
        double[] Speedups(params int[] winningExponents) => [.. Enumerable.Range(1, 10).Select(k => winningExponents.Contains(k) ? 2.0 : 0.5)];
        Assert.Equal("all N (2-1024)", CostModelReport.WinRange(Speedups(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)));
        Assert.Equal("N <= 64", CostModelReport.WinRange(Speedups(1, 2, 3, 4, 5, 6)));
        Assert.Equal("N >= 8", CostModelReport.WinRange(Speedups(3, 4, 5, 6, 7, 8, 9, 10)));
        Assert.Equal("no N", CostModelReport.WinRange(Speedups()));
        Assert.Equal("N in {2, 8}", CostModelReport.WinRange(Speedups(1, 3)));
    }

    [Theory]
    [InlineData(0.034, "+3%")]
    [InlineData(-0.12, "-12%")]
    [InlineData(-0.0004, "0%")]
    [InlineData(0.0004, "0%")]
    [InlineData(0.0, "0%")]
    [InlineData(-0.005, "-1%")]
    public void ModelErrorPrintsWithOneSignAndNoNegativeZero(double fraction, string expected)
    {
        Assert.Equal(expected, CostModelReport.SignedPercent(fraction));
    }
}
