using System.Numerics.Tensors;
using AtomoCollectives.Decompositions;

namespace AtomoCollectives.Benchmarks;

/// <summary>
/// Development aid (<c>--fourier-kernels</c>): the inverse DCT (the decoder's kernel) of FFTW with its SIMD codelets,
/// with <c>FFTW_NO_SIMD</c> (what the decoder uses) and managed, on the ResNet-18 weight lengths: how many outputs differ
/// in their bits between SIMD and scalar FFTW (what two ranks on CPUs with different SIMD would see if the decoder let
/// FFTW pick), and the time of each against reading the coefficients once (warm, minimum of repeats).
/// </summary>
internal static class FourierKernels
{
    public static void Run()
    {
        NativeFftwTransform fftw = NativeFftwTransform.TryCreate(null, out string error) ?? throw new InvalidOperationException(error);
        int[] lengths = [64 * 147, 64 * 576, 128 * 1152, 256 * 2304, 512 * 4608, 1000 * 512];
        Console.WriteLine($"FFTW {Interop.FftwLibrary.Version}; {"n",9} {"outputs differing SIMD vs scalar",34} {"max |diff|/‖x‖",15} {"read us",9} {"SIMD ×read",10} {"scalar ×read",12} {"managed ×read",13}");
        var random = new Random(17);
        foreach (int n in lengths)
        {
            var coefficients = new float[n];
            for (int i = 0; i < n; i++)
            {
                coefficients[i] = (float)(random.NextDouble() - 0.5);
            }

            var simd = new float[n];
            var scalar = new float[n];
            var managed = new float[n];
            fftw.Inverse(coefficients, simd, Interop.FftwEstimate);
            fftw.Inverse(coefficients, scalar, Interop.FftwEstimate | Interop.FftwNoSimd);
            int differing = 0;
            double maximum = 0;
            for (int i = 0; i < n; i++)
            {
                if (BitConverter.SingleToInt32Bits(simd[i]) != BitConverter.SingleToInt32Bits(scalar[i]))
                {
                    differing++;
                    maximum = Math.Max(maximum, Math.Abs((double)simd[i] - scalar[i]));
                }
            }

            double norm = Math.Sqrt(TensorPrimitives.SumOfSquares(coefficients));
            double read = QuickRatios.MinimumSeconds(() => TensorPrimitives.Sum(coefficients), 15);
            double simdTime = QuickRatios.MinimumSeconds(() => { fftw.Inverse(coefficients, simd, Interop.FftwEstimate); return 0; }, 15);
            double scalarTime = QuickRatios.MinimumSeconds(() => { fftw.Inverse(coefficients, scalar, Interop.FftwEstimate | Interop.FftwNoSimd); return 0; }, 15);
            double managedTime = QuickRatios.MinimumSeconds(() => { FourierTransform.Inverse(coefficients, managed); return 0; }, 5);
            Console.WriteLine($"{"",26} {n,9} {$"{differing:N0} of {n:N0} ({100.0 * differing / n:F1} %)",34} {maximum / norm,15:G3} {read * 1e6,9:F1} {simdTime / read,10:F1} {scalarTime / read,12:F1} {managedTime / read,13:F1}");
        }
    }
}
