using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace AtomoCollectives;

/// <summary>
/// OpenBLAS / LAPACK imports. LAPACK routines take every argument by reference (Fortran ABI) and a hidden
/// string length per character argument, passed last. All signatures are blittable.
/// </summary>
internal static unsafe partial class Interop
{
    internal const int CblasRowMajor = 101;
    internal const int CblasNoTrans = 111;
    internal const int CblasTrans = 112;

    [LibraryImport(Libraries.OpenBlas, EntryPoint = "openblas_set_num_threads")]
    internal static partial void openblas_set_num_threads(int threads);

    [LibraryImport(Libraries.OpenBlas, EntryPoint = "cblas_sgemm")]
    internal static partial void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc);

    [LibraryImport(Libraries.OpenBlas, EntryPoint = "sgesdd_")]
    internal static partial void sgesdd_(byte* jobz, int* m, int* n, float* a, int* lda, float* s, float* u, int* ldu, float* vt, int* ldvt, float* work, int* lwork, int* iwork, int* info, nuint jobzLength);

    [LibraryImport(Libraries.OpenBlas, EntryPoint = "sgelqf_")]
    internal static partial void sgelqf_(int* m, int* n, float* a, int* lda, float* tau, float* work, int* lwork, int* info);

    [LibraryImport(Libraries.OpenBlas, EntryPoint = "sorglq_")]
    internal static partial void sorglq_(int* m, int* n, int* k, float* a, int* lda, float* tau, float* work, int* lwork, int* info);

    /// <summary>Loads OpenBLAS once and resolves <see cref="Libraries.OpenBlas"/> to it.</summary>
    internal static class OpenBlasLibrary
    {
        private static readonly Lock Gate = new();
        private static IntPtr _handle;
        private static bool _hooked;

        /// <summary>
        /// Loads the library at <paramref name="path"/> (or the system default when null) and routes the imports to it.
        /// The first successful load wins for the process; returns false with a message saying how to fix it otherwise.
        /// </summary>
        internal static bool TryLoad(string? path, out string error)
        {
            string file = string.IsNullOrEmpty(path) ? Libraries.OpenBlasDefaultFile : path;
            lock (Gate)
            {
                if (!NativeLibrary.TryLoad(file, out IntPtr handle))
                {
                    error = $"could not load '{file}': {Libraries.OpenBlasInstallHint}";
                    return false;
                }

                string[] required = ["cblas_sgemm", "sgesdd_", "sgelqf_", "sorglq_", "openblas_set_num_threads"];
                foreach (string symbol in required)
                {
                    if (!NativeLibrary.TryGetExport(handle, symbol, out _))
                    {
                        NativeLibrary.Free(handle);
                        error = $"'{file}' does not export {symbol}: it is not a full OpenBLAS with LAPACK; {Libraries.OpenBlasInstallHint}";
                        return false;
                    }
                }

                if (_handle == IntPtr.Zero)
                {
                    _handle = handle;
                }

                if (!_hooked)
                {
                    AssemblyLoadContext.Default.ResolvingUnmanagedDll += Resolve;
                    _hooked = true;
                }

                error = "";
                return true;
            }
        }

        private static IntPtr Resolve(Assembly assembly, string name) =>
            assembly == typeof(OpenBlasLibrary).Assembly && name == Libraries.OpenBlas ? _handle : IntPtr.Zero;
    }
}
