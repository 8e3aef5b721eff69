using AtomoCollectives.Decompositions;
using AtomoCollectives.Diagnostics;
using Microsoft.Extensions.Logging;

namespace AtomoCollectives;

/// <summary>
/// Which DCT the Fourier atoms use, chosen once per process like <see cref="LinearAlgebraProvider"/>: the environment
/// variable <c>ATOMO_FOURIER=native|managed</c> if set, else the system's single-precision FFTW (<c>libfftw3f.so.3</c>,
/// or the file in <c>ATOMO_FFTW_LIBRARY</c>) when it loads and matches the managed transform on a few lengths, else the
/// managed transform. The choice and its reason are logged through <see cref="AtomoLogging"/> at Information level
/// when first made. Every rank of a job must end up with the same <see cref="DecodeKernel"/> (the averager checks).
/// </summary>
public static class FourierTransformProvider
{
    /// <summary>Environment variable forcing the transform: <c>native</c> (FFTW) or <c>managed</c>.</summary>
    public const string ProviderVariable = "ATOMO_FOURIER";

    private static readonly Lazy<Selection> Selected = new(SelectFromEnvironment, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The active transform's name, e.g. <c>native (FFTW fftw-3.3.10-sse2-avx, libfftw3f.so.3)</c>.</summary>
    /// <exception cref="InvalidOperationException"><c>ATOMO_FOURIER</c> is invalid, or forces FFTW where it cannot be used.</exception>
    public static string ActiveProvider => Selected.Value.Transform.Name;

    /// <summary>Why the active transform was chosen (and, for the fallback, how to get FFTW).</summary>
    /// <exception cref="InvalidOperationException"><c>ATOMO_FOURIER</c> is invalid, or forces FFTW where it cannot be used.</exception>
    public static string SelectionReason => Selected.Value.Reason;

    /// <summary>Whether the active transform is FFTW.</summary>
    /// <exception cref="InvalidOperationException"><c>ATOMO_FOURIER</c> is invalid, or forces FFTW where it cannot be used.</exception>
    public static bool IsNative => Selected.Value.Transform is NativeFftwTransform;

    /// <summary>
    /// What the bits of a Fourier decode depend on (library build and plan flags, or the managed kernel). Ranks with
    /// different values would reconstruct different bits, so <see cref="AtomoAllreduce"/> refuses to mix them.
    /// </summary>
    /// <exception cref="InvalidOperationException"><c>ATOMO_FOURIER</c> is invalid, or forces FFTW where it cannot be used.</exception>
    public static string DecodeKernel => Selected.Value.Transform.DecodeKernel;

    internal static IFourierTransform Current => Selected.Value.Transform;

    /// <summary>
    /// Bound on <c>‖T_float(x) − T(x)‖₂ / ‖x‖₂</c> for a float transform of length n against the exact orthonormal one:
    /// an FFT in float has relative 2-norm error ≤ log₂n·η with η ≈ 6u (butterflies and twiddles, u = 2⁻²⁴, Higham,
    /// Accuracy and Stability §24.1), and the DCT's pre/post rotations and the scaling add a few u. Observed errors are
    /// far smaller (they grow like √log n).
    /// </summary>
    internal static double ErrorBound(int n) => ((6 * Math.Ceiling(Math.Log2(Math.Max(2, n)))) + 16) * Math.Pow(2, -24);

    internal readonly record struct Selection(IFourierTransform Transform, string Reason);

    private static Selection SelectFromEnvironment()
    {
        Selection selection = Select(Environment.GetEnvironmentVariable(ProviderVariable), Environment.GetEnvironmentVariable(Interop.Libraries.FftwPathVariable));
        AtomoLogging.CreateLogger("AtomoCollectives.Fourier").LogInformation("Fourier transform: {Provider}. {Reason}", selection.Transform.Name, selection.Reason);
        return selection;
    }

    /// <summary>The selection rule, without caching or logging (tests call it with their own settings).</summary>
    internal static Selection Select(string? choice, string? libraryPath)
    {
        switch ((choice ?? "").Trim().ToLowerInvariant())
        {
            case "managed":
                return new Selection(ManagedFourierTransform.Instance, $"{ProviderVariable}=managed.");
            case "native":
                if (TryNative(libraryPath, out NativeFftwTransform? forced, out string forcedError))
                {
                    return new Selection(forced!, $"{ProviderVariable}=native.");
                }

                throw new InvalidOperationException($"{ProviderVariable}=native, but FFTW is unusable: {forcedError}");
            case "":
                if (TryNative(libraryPath, out NativeFftwTransform? native, out string error))
                {
                    return new Selection(native!, "FFTW loaded and matched the managed DCT-II/III.");
                }

                return new Selection(ManagedFourierTransform.Instance, $"FFTW unavailable, using the managed DCT (2-4x slower): {error}");
            default:
                throw new InvalidOperationException($"{ProviderVariable}='{choice}' is not valid: use 'native' or 'managed', or leave it unset to choose automatically.");
        }
    }

    private static bool TryNative(string? libraryPath, out NativeFftwTransform? transform, out string error)
    {
        transform = null;
        try
        {
            NativeFftwTransform? candidate = NativeFftwTransform.TryCreate(libraryPath, out error);
            if (candidate is null || !Verify(candidate, out error))
            {
                return false;
            }

            transform = candidate;
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or InvalidOperationException)
        {
            error = $"{e.GetType().Name}: {e.Message}; {Interop.Libraries.FftwInstallHint}";
            return false;
        }
    }

    /// <summary>Both directions against the managed transform within <see cref="ErrorBound"/>, on even, odd and prime lengths.</summary>
    internal static bool Verify(IFourierTransform transform, out string error)
    {
        int[] lengths = [1, 2, 7, 12, 97, 1000];
        foreach (int n in lengths)
        {
            var x = new float[n];
            for (int i = 0; i < n; i++)
            {
                x[i] = (float)(Math.Sin(0.37 * i) + ((i % 7) * 0.25) - 0.5);
            }

            var expected = new float[n];
            var actual = new float[n];
            FourierTransform.Forward(x, expected);
            transform.Forward(x, actual);
            double forward = RelativeDistance(actual, expected, x);
            FourierTransform.Inverse(expected, x);
            transform.Inverse(expected, actual);
            double inverse = RelativeDistance(actual, x, expected);
            if (!(forward <= ErrorBound(n)) || !(inverse <= ErrorBound(n)))
            {
                error = $"the DCT of length {n} differs from the managed one by {forward:G3} (forward) and {inverse:G3} (inverse) relative to the input's norm; bound {ErrorBound(n):G3}.";
                return false;
            }
        }

        error = "";
        return true;
    }

    private static double RelativeDistance(ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> input)
    {
        double distance = 0, norm = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = (double)a[i] - b[i];
            distance += d * d;
            norm += (double)input[i] * input[i];
        }

        return Math.Sqrt(distance) / Math.Max(Math.Sqrt(norm), double.Epsilon);
    }
}
