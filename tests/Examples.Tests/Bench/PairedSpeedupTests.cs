using System.Globalization;
using AtomoCollectives.Examples.Bench;
using AtomoCollectives.Examples.Cli;

namespace AtomoCollectives.Examples.Tests.Bench;

/// <summary><see cref="PairedSpeedup"/>: the rounds' ratios against the better dense baseline, and the order-statistic interval for their median.</summary>
[Collection("Training")] // its bench run redirects Console, as the CLI tests of this collection do
public class PairedSpeedupTests
{
    [Theory]
    [InlineData(15, 4, 0.9648)]     // P(B(15, ½) ≤ 3) = 576/32768 = 0.0176 ≤ 0.025 < P(B ≤ 4) = 0.0592
    [InlineData(7, 1, 0.9844)]      // P(B(7, ½) ≤ 0) = 1/128; P(B ≤ 1) = 8/128 > 0.025
    [InlineData(9, 2, 0.9609)]      // P(B(9, ½) ≤ 1) = 10/512 = 0.0195
    [InlineData(5, 1, 0.9375)]      // too few rounds for 95 %: the whole range, 1 − 2/32
    [InlineData(45, 16, 0.9643)]    // P(B(45, ½) ≤ 15) = 0.0178; P(B ≤ 16) = 0.0362
    public void TheIntervalIsTheOrderStatisticsOfTheBinomial(int n, int k, double coverage)
    {
        double[] values = [.. Enumerable.Range(1, n).Select(i => (double)i).Reverse()];
        (double median, double low, double high, double actual) = PairedSpeedup.MedianInterval(values);
        Assert.Equal((n + 1) / 2.0, median, 12);
        Assert.Equal(k, low);
        Assert.Equal(n - k + 1, high);
        Assert.Equal(coverage, actual, 4);
    }

    [Fact]
    public void AnEvenCountsMedianIsTheMeanOfTheMiddleTwo() =>
        Assert.Equal(2.5, PairedSpeedup.MedianInterval([4, 1, 3, 2]).Median, 12);

    [Fact]
    public void RoundsArePairedWithTheBetterOfTheTwoDenseBaselines()
    {
        // dense-node has the shorter median (0.9 s < 1.0 s), so it is the baseline; each round's ratio is its step over ATOMO's.
        ConfigResult dense = Result("dense", 1.0, [1.0, 1.0, 1.2, 0.8, 1.0, 1.0, 1.0]);
        ConfigResult node = Result("dense-node", 0.9, [0.9, 0.9, 0.9, 0.9, 1.8, 0.45, 0.9]);
        ConfigResult pieces = Result("dense-pieces", 0.1, [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]);   // not one of the goals' baselines
        ConfigResult atomo = Result("atomo-spectral-s3", 0.45, [0.45, 0.45, 0.45, 0.45, 0.9, 0.225, 0.3]);
        PairedSpeedup? paired = PairedSpeedup.Of([dense, node, pieces, atomo], atomo);
        Assert.NotNull(paired);
        Assert.Equal("dense-node", paired.Baseline);
        Assert.Equal(2.0, paired.Median, 12);           // six rounds at 2.0 (the slow and fast rounds slowed both alike), one at 3.0
        Assert.Equal(2.0, paired.Low, 12);
        Assert.Equal(3.0, paired.High, 12);             // 7 rounds: the whole range, 98.4 %
        Assert.Equal(1 - (2.0 / 128), paired.Coverage, 12);

        Assert.Null(PairedSpeedup.Of([dense, node, atomo], node));                                    // the baseline itself
        Assert.Null(PairedSpeedup.Of([atomo], atomo));                                                // no baseline
        Assert.Null(PairedSpeedup.Of([dense, atomo with { StepTotals = [0.5, 0.5] }], atomo with { StepTotals = [0.5, 0.5] }));   // rounds differ
        Assert.Null(PairedSpeedup.Of([dense with { StepTotals = [] }, atomo], atomo));               // read back from a CSV
        Assert.Equal(("dense-node", 9.0), PairedSpeedup.Of([dense, node, pieces], pieces) is { } p ? (p.Baseline, p.Median) : default);   // compared too, not a baseline
        Assert.Equal("dense-node", PairedSpeedup.Of([dense, node], dense)!.Baseline);
    }

    [Fact]
    public void TheBenchWritesEveryRoundAndPairsThem()
    {
        string output = Directory.CreateTempSubdirectory("paired-speedup-tests-").FullName;
        TextWriter original = Console.Out;
        Console.SetOut(new StringWriter());
        try
        {
            Assert.Equal(0, ExamplesCli.Run(["bench", "--sets", "mlp", "--configs", "dense,terngrad", "--ranks", "2", "--warmup", "0", "--steps", "3", "--output", output]));
            Dictionary<string, double[]> rounds = Csv.Read(Path.Combine(output, "steps-inprocess-n2.csv"))
                .GroupBy(r => r["config"])
                .ToDictionary(g => g.Key, g => g.OrderBy(r => int.Parse(r["round"], CultureInfo.InvariantCulture)).Select(r => Csv.Double(r["step_s"])).ToArray());
            Assert.Equal(["dense", "terngrad"], rounds.Keys);
            Assert.All(rounds.Values, steps => Assert.Equal(3, steps.Length));

            // Each configuration's step is the median of its rounds, and the paired speedup pairs them round by round:
            // over 3 rounds, the middle ratio and the whole range (coverage 1 − 2/2³).
            Dictionary<string, Dictionary<string, string>> rows = Csv.Read(Path.Combine(output, "bench-inprocess-n2.csv")).ToDictionary(r => r["config"]);
            Assert.All(rounds, kv => Assert.Equal(kv.Value.Order().ElementAt(1), Csv.Double(rows[kv.Key]["step_s"]), 12));
            double[] ratios = [.. rounds["dense"].Zip(rounds["terngrad"], (d, t) => d / t).Order()];
            Dictionary<string, string> terngrad = rows["terngrad"];
            Assert.Equal("dense", terngrad["paired_baseline"]);
            Assert.Equal(ratios[1], Csv.Double(terngrad["paired_speedup"]), 12);
            Assert.Equal(ratios[0], Csv.Double(terngrad["paired_low"]), 12);
            Assert.Equal(ratios[2], Csv.Double(terngrad["paired_high"]), 12);
            Assert.Equal(0.75, Csv.Double(terngrad["paired_coverage"]), 12);
            Assert.Equal("", rows["dense"]["paired_baseline"]);
        }
        finally
        {
            Console.SetOut(original);
            Directory.Delete(output, recursive: true);
        }
    }

    private static ConfigResult Result(string config, double median, double[] steps) =>
        new("10gbit", "resnet18", config, 8, steps.Length, median, steps.Min(), 0, median, 0, 1, 1, 1, 100, 100, 1, 0, 0.001)
        {
            StepTotals = steps,
        };
}
