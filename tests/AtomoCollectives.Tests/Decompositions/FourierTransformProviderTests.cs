using AtomoCollectives.Decompositions;

namespace AtomoCollectives.Tests.Decompositions;

/// <summary>
/// FFTW's DCT-II/III (libfftw3-single3, installed by scripts/install-dependencies.sh) against the managed transform, the
/// selection rule, the decoder's determinism and the bounded plan cache. Tolerances are
/// <see cref="FourierTransformProvider.ErrorBound"/>: the 2-norm error bound of a float FFT relative to the input's norm
/// (the managed reference is exact to one float rounding, ε_f·‖x‖, inside that bound).
/// </summary>
public class FourierTransformProviderTests
{
    // Even, odd, powers of two, small primes, a large prime (FFTW's generic path) and ResNet-18's 64·147 and 64·576.
    public static TheoryData<int> Lengths => [1, 2, 3, 4, 5, 7, 8, 16, 17, 31, 64, 97, 100, 128, 243, 1000, 1024, 4099, 9408, 36864];

    [Fact]
    public void FftwIsSelectedWhenInstalled()
    {
        FourierTransformProvider.Selection selection = FourierTransformProvider.Select(null, null);
        Assert.IsType<NativeFftwTransform>(selection.Transform);
        Assert.Contains("FFTW fftw-3", selection.Transform.Name, StringComparison.Ordinal);
        Assert.Contains("FFTW_NO_SIMD", selection.Transform.DecodeKernel, StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(FourierTransformProvider.SelectionReason));
    }

    [Fact]
    public void ManagedFallbackWhenTheLibraryCannotBeLoaded()
    {
        // The same inputs as ATOMO_FFTW_LIBRARY=/nonexistent/libfftw3f.so with ATOMO_FOURIER unset.
        FourierTransformProvider.Selection selection = FourierTransformProvider.Select(null, "/nonexistent/libfftw3f.so");
        Assert.IsType<ManagedFourierTransform>(selection.Transform);
        Assert.Contains("apt-get install libfftw3-single3", selection.Reason, StringComparison.Ordinal);
        Assert.Contains("/nonexistent/libfftw3f.so", selection.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ForcingNativeWithoutTheLibraryThrowsWithTheFix()
    {
        var error = Assert.Throws<InvalidOperationException>(() => FourierTransformProvider.Select("native", "/nonexistent/libfftw3f.so"));
        Assert.Contains("apt-get install libfftw3-single3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ALibraryThatIsNotFftwIsRefused()
    {
        // OpenBLAS loads but exports no fftwf_* symbols.
        FourierTransformProvider.Selection selection = FourierTransformProvider.Select(null, "libopenblas.so.0");
        Assert.IsType<ManagedFourierTransform>(selection.Transform);
        Assert.Contains("does not export fftwf_plan_dft_r2c_1d", selection.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void OverrideSelectsManagedAndRejectsUnknownValues()
    {
        Assert.IsType<ManagedFourierTransform>(FourierTransformProvider.Select("managed", null).Transform);
        Assert.IsType<NativeFftwTransform>(FourierTransformProvider.Select(" Native ", null).Transform);
        var error = Assert.Throws<InvalidOperationException>(() => FourierTransformProvider.Select("cufft", null));
        Assert.Contains("ATOMO_FOURIER='cufft' is not valid", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void FftwMatchesTheManagedOrthonormalDct(int n)
    {
        IFourierTransform fftw = Native();
        float[] x = TestMatrices.Gaussian(n, 3 + n);
        var expected = new float[n];
        var actual = new float[n];
        FourierTransform.Forward(x, expected);
        fftw.Forward(x, actual);
        double bound = FourierTransformProvider.ErrorBound(n) * TestMatrices.Norm(x);
        Assert.True(TestMatrices.Distance(actual, expected) <= bound, $"forward: {TestMatrices.Distance(actual, expected)} > {bound}");

        // The scaling, checked on its own: the first coefficient is Σx/√n (FFTW's r2c gives Σx, here of x/√(2n)).
        double sum = x.Sum(v => (double)v);
        Assert.True(Math.Abs(actual[0] - (sum / Math.Sqrt(n))) <= bound, $"X_0 = {actual[0]}, expected {sum / Math.Sqrt(n)}");

        FourierTransform.Inverse(x, expected);
        fftw.Inverse(x, actual);
        Assert.True(TestMatrices.Distance(actual, expected) <= bound, $"inverse: {TestMatrices.Distance(actual, expected)} > {bound}");
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void FftwInverseUndoesForward(int n)
    {
        IFourierTransform fftw = Native();
        float[] x = TestMatrices.Gaussian(n, 7 + n);
        var c = new float[n];
        var back = new float[n];
        fftw.Forward(x, c);
        fftw.Inverse(c, back);

        // Two transforms, each within the bound of an orthonormal map.
        Assert.True(TestMatrices.Distance(x, back) <= 2 * FourierTransformProvider.ErrorBound(n) * TestMatrices.Norm(x));
    }

    [Fact]
    public void FftwRefusesMismatchedLengthsAndTransformsNothingForEmptyInput()
    {
        IFourierTransform fftw = Native();
        Assert.Throws<ArgumentException>(() => fftw.Forward(new float[8], new float[7]));
        Assert.Throws<ArgumentException>(() => fftw.Inverse(new float[8], new float[9]));
        fftw.Forward([], []);
        fftw.Inverse([], []);
    }

    [Fact]
    public void DecodeIsBitwiseRepeatableAcrossThreadsAndPlanEvictions()
    {
        // More lengths than the cache holds, transformed concurrently: plans are evicted while other threads execute
        // theirs and are made again later; every inverse must still give the bits of the first, serial run.
        IFourierTransform fftw = Native();
        int[] lengths = [.. Enumerable.Range(0, NativeFftwTransform.PlanCapacity + 40).Select(i => 200 + (7 * i))];
        float[][] inputs = [.. lengths.Select(n => TestMatrices.Gaussian(n, n))];
        float[][] serial = [.. inputs.Select(c => Inverse(fftw, c))];
        Parallel.For(0, 4 * lengths.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            int t = (i * 37) % lengths.Length;
            float[] again = Inverse(fftw, inputs[t]);
            Assert.True(again.Select(BitConverter.SingleToInt32Bits).SequenceEqual(serial[t].Select(BitConverter.SingleToInt32Bits)), $"length {lengths[t]}: the inverse changed bits");
        });

        Assert.InRange(NativeFftwTransform.CachedPlans, 1, NativeFftwTransform.PlanCapacity);
    }

    [Fact]
    public void ManagedPlanCachesAreBounded()
    {
        for (int n = 3000; n < 3000 + (2 * FourierTransform.PlanCapacity); n++)
        {
            FourierTransform.Inverse(new float[n], new float[n]);
        }

        Assert.InRange(FourierTransform.CachedPlans, 1, 2 * FourierTransform.PlanCapacity);
    }

    [Fact]
    public void ProvidersPassTheirOwnVerification()
    {
        Assert.True(FourierTransformProvider.Verify(Native(), out string error), error);
        Assert.True(FourierTransformProvider.Verify(ManagedFourierTransform.Instance, out error), error);
    }

    private static IFourierTransform Native() => FourierTransformProvider.Select("native", null).Transform;

    private static float[] Inverse(IFourierTransform transform, float[] coefficients)
    {
        var x = new float[coefficients.Length];
        transform.Inverse(coefficients, x);
        return x;
    }
}
