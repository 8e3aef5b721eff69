using AtomoCollectives.LinearAlgebra;

namespace AtomoCollectives.Decompositions;

/// <summary>
/// Thin QR of a tall m×k panel for the range finder. For k ≤ 32 this is the managed Householder QR in double
/// (<see cref="ManagedProvider.QR"/>) whatever the active provider: for such thin panels LAPACK's per-call overhead
/// (workspace queries, sgelqf + sorglq) exceeds the work, measured ~2.5× slower at 256×7 (`--stages`), and a
/// CholeskyQR2 variant was no faster. Householder returns an orthonormal Q for any rank (zero or low-rank tensors).
/// Wider panels use the provider.
/// </summary>
internal static class ThinQR
{
    private const int ManagedLimit = 32;

    public static void Factor(ILinearAlgebraProvider provider, Span<float> a, int m, int k, Span<float> r)
    {
        if (k <= ManagedLimit)
        {
            ManagedProvider.Instance.QR(a, m, k, r);
        }
        else
        {
            provider.QR(a, m, k, r);
        }
    }
}
