using System.Runtime.InteropServices;

namespace AtomoCollectives;

/// <summary>
/// Single-precision FFTW 3 imports (libfftw3f): the 1-D real-input DFT plans the Fourier atoms' DCT runs on. Thread safety, as
/// FFTW documents it: only the execute functions may run concurrently; planning and destroying plans must be
/// serialised by the caller (<see cref="Decompositions.NativeFftwTransform"/> does it under one lock).
/// </summary>
internal static unsafe partial class Interop
{
    /// <summary><c>FFTW_ESTIMATE</c>: pick the plan from FFTW's cost model, without timing anything.</summary>
    internal const uint FftwEstimate = 1U << 6;

    /// <summary><c>FFTW_NO_SIMD</c> (fftw3.h, "beyond-guru" flag): only the scalar codelets.</summary>
    internal const uint FftwNoSimd = 1U << 17;

    /// <summary><c>fftwf_plan fftwf_plan_dft_r2c_1d(int n, float* in, fftwf_complex* out, unsigned flags)</c>; null when FFTW cannot plan it.</summary>
    [LibraryImport(Libraries.Fftw, EntryPoint = "fftwf_plan_dft_r2c_1d")]
    internal static partial nint fftwf_plan_dft_r2c_1d(int n, float* input, float* output, uint flags);

    /// <summary><c>fftwf_plan fftwf_plan_dft_c2r_1d(int n, fftwf_complex* in, float* out, unsigned flags)</c>; null when FFTW cannot plan it.</summary>
    [LibraryImport(Libraries.Fftw, EntryPoint = "fftwf_plan_dft_c2r_1d")]
    internal static partial nint fftwf_plan_dft_c2r_1d(int n, float* input, float* output, uint flags);

    /// <summary>New-array execute: thread-safe; the arrays must have the alignment and placement (here out of place) of those the plan was made with.</summary>
    [LibraryImport(Libraries.Fftw, EntryPoint = "fftwf_execute_dft_r2c")]
    internal static partial void fftwf_execute_dft_r2c(nint plan, float* input, float* output);

    /// <summary>New-array execute of a complex-to-real plan (it overwrites its input).</summary>
    [LibraryImport(Libraries.Fftw, EntryPoint = "fftwf_execute_dft_c2r")]
    internal static partial void fftwf_execute_dft_c2r(nint plan, float* input, float* output);

    [LibraryImport(Libraries.Fftw, EntryPoint = "fftwf_destroy_plan")]
    internal static partial void fftwf_destroy_plan(nint plan);

    /// <summary>Loads libfftw3f once and binds <see cref="Libraries.Fftw"/> to it through the assembly's one resolver.</summary>
    internal static class FftwLibrary
    {
        private static readonly Lock Gate = new();
        private static string? _version;

        /// <summary>The loaded library's <c>fftwf_version</c> string (e.g. <c>fftw-3.3.10-sse2-avx</c>: version and SIMD sets compiled in).</summary>
        internal static string Version => _version ?? "";

        /// <summary>
        /// Loads the library at <paramref name="path"/> (or the system default when null) and routes the imports to
        /// it. The first successful load wins for the process; returns false with a message saying how to fix it otherwise.
        /// </summary>
        internal static bool TryLoad(string? path, out string error)
        {
            string file = string.IsNullOrEmpty(path) ? Libraries.FftwDefaultFile : path;
            lock (Gate)
            {
                if (!NativeLibrary.TryLoad(file, out nint handle))
                {
                    error = $"could not load '{file}': {Libraries.FftwInstallHint}";
                    return false;
                }

                string[] required = ["fftwf_plan_dft_r2c_1d", "fftwf_plan_dft_c2r_1d", "fftwf_execute_dft_r2c", "fftwf_execute_dft_c2r", "fftwf_destroy_plan", "fftwf_version"];
                foreach (string symbol in required)
                {
                    if (!NativeLibrary.TryGetExport(handle, symbol, out _))
                    {
                        NativeLibrary.Free(handle);
                        error = $"'{file}' does not export {symbol}: it is not single-precision FFTW 3; {Libraries.FftwInstallHint}";
                        return false;
                    }
                }

                if (_version is null)
                {
                    // fftwf_version is a char array, not a function: its export is the string itself.
                    _version = Marshal.PtrToStringUTF8(NativeLibrary.GetExport(handle, "fftwf_version")) ?? "fftw (unknown version)";
                    Libraries.Register(Libraries.Fftw, handle);
                }
                error = "";
                return true;
            }
        }
    }
}
