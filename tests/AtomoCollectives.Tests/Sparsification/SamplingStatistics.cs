namespace AtomoCollectives.Tests.Sparsification;

/// <summary>
/// Runs many seeded draws of an unbiased sparsifier and checks them against the exact moments.
/// Tolerances are five standard errors of the statistic being tested, computed from the exact per-atom
/// distribution (a kept atom is λ_i/p_i with probability p_i, else 0), plus float rounding of the sent values.
/// </summary>
internal sealed class SamplingStatistics
{
    private const double Sigmas = 5;
    private readonly float[] _lambda;
    private readonly double[] _p;
    private readonly double[] _sum;
    private double _squaredErrorSum;
    private readonly List<int> _counts = [];

    public SamplingStatistics(float[] lambda, double[] probabilities)
    {
        _lambda = lambda;
        _p = probabilities;
        _sum = new double[lambda.Length];
    }

    public int Trials { get; private set; }

    public IReadOnlyList<int> Counts => _counts;

    public void Add(AtomSelection selection)
    {
        var estimate = new float[_lambda.Length];
        selection.AddTo(estimate);
        Add(estimate, selection.Count);
    }

    public void Add(float[] estimate, int count)
    {
        double squaredError = 0;
        for (int i = 0; i < estimate.Length; i++)
        {
            _sum[i] += estimate[i];
            double error = (double)estimate[i] - _lambda[i];
            squaredError += error * error;
        }

        _squaredErrorSum += squaredError;
        _counts.Add(count);
        Trials++;
    }

    /// <summary>Every coordinate's mean is within 5 standard errors, sqrt(λ²(1/p − 1)/T), of λ.</summary>
    public void AssertUnbiased()
    {
        for (int i = 0; i < _lambda.Length; i++)
        {
            double lambda = _lambda[i];
            double mean = _sum[i] / Trials;
            double p = _p[i];
            double variance = p > 0 ? lambda * lambda * (1 / p - 1) : 0;
            double tolerance = (Sigmas * Math.Sqrt(variance / Trials)) + (2e-7 * Math.Abs(lambda)) + 1e-30;
            Assert.True(Math.Abs(mean - lambda) <= tolerance, $"coordinate {i}: mean {mean} vs λ {lambda}, tolerance {tolerance} (p = {p})");
        }
    }

    /// <summary>
    /// The mean of ‖ĝ − g‖² is within 5 standard errors of Σλ²(1/p − 1). For independent draws the variance of
    /// ‖ĝ − g‖² is Σ Var(X_i); for correlated (systematic) draws it is at most (Σ sd(X_i))².
    /// </summary>
    public void AssertVarianceMatchesFormula(bool independentDraws)
    {
        double expected = 0, varianceOfSum = 0, sdSum = 0;
        for (int i = 0; i < _lambda.Length; i++)
        {
            double p = _p[i];
            if (p <= 0 || p >= 1)
            {
                continue;
            }

            double l2 = (double)_lambda[i] * _lambda[i];
            double kept = l2 * Math.Pow((1 / p) - 1, 2);
            double mean = l2 * ((1 / p) - 1);
            double secondMoment = (p * kept * kept) + ((1 - p) * l2 * l2);
            expected += mean;
            varianceOfSum += secondMoment - (mean * mean);
            sdSum += Math.Sqrt(secondMoment - (mean * mean));
        }

        double spread = independentDraws ? Math.Sqrt(varianceOfSum) : sdSum;
        double tolerance = (Sigmas * spread / Math.Sqrt(Trials)) + (1e-6 * expected);
        double observed = _squaredErrorSum / Trials;
        Assert.True(Math.Abs(observed - expected) <= tolerance, $"mean squared error {observed} vs exact variance {expected}, tolerance {tolerance}");
    }
}
