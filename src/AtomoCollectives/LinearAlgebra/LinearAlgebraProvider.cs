using AtomoCollectives.Diagnostics;
using AtomoCollectives.LinearAlgebra;
using Microsoft.Extensions.Logging;

namespace AtomoCollectives;

/// <summary>
/// Which dense linear algebra the decompositions use, chosen once per process: the environment variable
/// <c>ATOMO_LINEAR_ALGEBRA=native|managed</c> if set, else the system OpenBLAS when it loads and passes a quick
/// check (a small known GEMM, QR and SVD), else the managed MathNet.Numerics fallback. The choice and its reason
/// are logged through <see cref="Diagnostics.AtomoLogging"/> at Information level when first made.
/// </summary>
public static class LinearAlgebraProvider
{
    /// <summary>Environment variable forcing the provider: <c>native</c> or <c>managed</c>.</summary>
    public const string ProviderVariable = "ATOMO_LINEAR_ALGEBRA";

    private static readonly Lazy<Selection> Selected = new(SelectFromEnvironment, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The active provider's name, e.g. <c>native (OpenBLAS, libopenblas.so.0)</c>.</summary>
    /// <exception cref="InvalidOperationException"><c>ATOMO_LINEAR_ALGEBRA</c> is invalid, or forces a native library that cannot be used.</exception>
    public static string ActiveProvider => Selected.Value.Provider.Name;

    /// <summary>Why the active provider was chosen (and, for the fallback, how to get the native one).</summary>
    /// <exception cref="InvalidOperationException"><c>ATOMO_LINEAR_ALGEBRA</c> is invalid, or forces a native library that cannot be used.</exception>
    public static string SelectionReason => Selected.Value.Reason;

    /// <summary>Whether the active provider is the native OpenBLAS one.</summary>
    /// <exception cref="InvalidOperationException"><c>ATOMO_LINEAR_ALGEBRA</c> is invalid, or forces a native library that cannot be used.</exception>
    public static bool IsNative => Selected.Value.Provider is NativeOpenBlasProvider;

    internal static ILinearAlgebraProvider Current => Selected.Value.Provider;

    /// <summary>
    /// <c>C = alpha·op(A)·op(B) + beta·C</c> on row-major spans with the active provider (OpenBLAS <c>cblas_sgemm</c>
    /// when native): op(A) is m×k, op(B) k×n, C m×n; <paramref name="lda"/>, <paramref name="ldb"/> and
    /// <paramref name="ldc"/> are the row strides of the matrices as stored (before transposition).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is negative, or a stride is shorter than its stored row.</exception>
    /// <exception cref="ArgumentException">A span is too short for its matrix; nothing is written.</exception>
    /// <exception cref="InvalidOperationException"><c>ATOMO_LINEAR_ALGEBRA</c> is invalid, or forces a native library that cannot be used.</exception>
    internal static void Gemm(bool transposeA, bool transposeB, int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        CheckStored(a, transposeA ? k : m, transposeA ? m : k, lda, nameof(a), nameof(lda));
        CheckStored(b, transposeB ? n : k, transposeB ? k : n, ldb, nameof(b), nameof(ldb));
        CheckStored(c, m, n, ldc, nameof(c), nameof(ldc));
        if (m == 0 || n == 0)
        {
            return;
        }

        Current.Gemm(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    private static void CheckStored(ReadOnlySpan<float> matrix, int rows, int columns, int stride, string name, string strideName)
    {
        if (stride < Math.Max(1, columns))
        {
            throw new ArgumentOutOfRangeException(strideName, stride, $"The row stride of {name} must be at least its {columns} stored columns (and at least 1).");
        }

        long needed = rows == 0 || columns == 0 ? 0 : ((long)(rows - 1) * stride) + columns;
        if (matrix.Length < needed)
        {
            throw new ArgumentException($"{name} holds {matrix.Length} values; a {rows}×{columns} matrix with row stride {stride} needs {needed}.", name);
        }
    }

    internal readonly record struct Selection(ILinearAlgebraProvider Provider, string Reason);

    private static Selection SelectFromEnvironment()
    {
        Selection selection = Select(Environment.GetEnvironmentVariable(ProviderVariable), Environment.GetEnvironmentVariable(Interop.Libraries.OpenBlasPathVariable));
        AtomoLogging.CreateLogger("AtomoCollectives.LinearAlgebra").LogInformation("Linear algebra provider: {Provider}. {Reason}", selection.Provider.Name, selection.Reason);
        return selection;
    }

    /// <summary>The selection rule, without caching or logging (tests call it with their own settings).</summary>
    internal static Selection Select(string? choice, string? libraryPath)
    {
        string normalized = (choice ?? "").Trim().ToLowerInvariant();
        switch (normalized)
        {
            case "managed":
                return new Selection(ManagedProvider.Instance, $"{ProviderVariable}=managed.");
            case "native":
                if (TryNative(libraryPath, out NativeOpenBlasProvider? forced, out string forcedError))
                {
                    return new Selection(forced!, $"{ProviderVariable}=native.");
                }

                throw new InvalidOperationException($"{ProviderVariable}=native, but the native OpenBLAS provider is unusable: {forcedError}");
            case "":
                if (TryNative(libraryPath, out NativeOpenBlasProvider? native, out string error))
                {
                    return new Selection(native!, "OpenBLAS loaded and passed the GEMM/QR/SVD check.");
                }

                return new Selection(ManagedProvider.Instance, $"Native OpenBLAS unavailable, using the managed fallback: {error}");
            default:
                throw new InvalidOperationException($"{ProviderVariable}='{choice}' is not valid: use 'native' or 'managed', or leave it unset to choose automatically.");
        }
    }

    private static bool TryNative(string? libraryPath, out NativeOpenBlasProvider? provider, out string error)
    {
        provider = null;
        try
        {
            NativeOpenBlasProvider? candidate = NativeOpenBlasProvider.TryCreate(libraryPath, out error);
            if (candidate is null)
            {
                return false;
            }

            if (!Verify(candidate, out error))
            {
                return false;
            }

            provider = candidate;
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or InvalidOperationException)
        {
            error = $"{e.GetType().Name}: {e.Message}; {Interop.Libraries.OpenBlasInstallHint}";
            return false;
        }
    }

    /// <summary>A small GEMM, QR and SVD with known answers.</summary>
    internal static bool Verify(ILinearAlgebraProvider provider, out string error)
    {
        // [1 2 3; 4 5 6] · [1 0; 0 1; 1 1] = [4 5; 10 11]
        Span<float> a = [1, 2, 3, 4, 5, 6];
        Span<float> b = [1, 0, 0, 1, 1, 1];
        Span<float> c = stackalloc float[4];
        provider.Gemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2);
        if (c[0] != 4 || c[1] != 5 || c[2] != 10 || c[3] != 11)
        {
            error = $"GEMM check failed: got [{c[0]} {c[1]}; {c[2]} {c[3]}], expected [4 5; 10 11].";
            return false;
        }

        // diag(3, 2) padded to 3×2 with a zero row has singular values 3, 2.
        Span<float> m = [0, 2, 3, 0, 0, 0];
        Span<float> s = stackalloc float[2];
        Span<float> u = stackalloc float[6];
        Span<float> vt = stackalloc float[4];
        provider.Svd(m, 3, 2, s, u, vt);
        if (Math.Abs(s[0] - 3) > 1e-5 || Math.Abs(s[1] - 2) > 1e-5 || Math.Abs(Math.Abs(u[2]) - 1) > 1e-5 || Math.Abs(Math.Abs(vt[0]) - 1) > 1e-5)
        {
            error = $"SVD check failed: singular values {s[0]}, {s[1]}, expected 3, 2.";
            return false;
        }

        // QR of [3; 4] is Q = ±[0.6; 0.8], R = ±5.
        Span<float> q = [3, 4];
        Span<float> r = stackalloc float[1];
        provider.QR(q, 2, 1, r);
        if (Math.Abs(Math.Abs(r[0]) - 5) > 1e-5 || Math.Abs((q[0] * r[0]) - 3) > 1e-5 || Math.Abs((q[1] * r[0]) - 4) > 1e-5)
        {
            error = $"QR check failed: R = {r[0]}, Q = [{q[0]}; {q[1]}].";
            return false;
        }

        error = "";
        return true;
    }
}
