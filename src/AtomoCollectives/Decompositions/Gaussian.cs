using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace AtomoCollectives.Decompositions;

/// <summary>Standard normal samples from a seed (Box–Muller on the vector generator), for sketch matrices.</summary>
internal static class Gaussian
{
    private const int Chunk = 64;

    /// <summary>Fills <paramref name="destination"/> with independent N(0, 1) floats determined by <paramref name="seed"/>.</summary>
    public static void Fill(Span<float> destination, ulong seed)
    {
        var random = new RandomStream(seed ^ 0x5851F42D4C957F2DUL);
        Span<float> u1 = stackalloc float[Chunk];
        Span<float> u2 = stackalloc float[Chunk];
        Span<float> sin = stackalloc float[Chunk];
        Span<float> cos = stackalloc float[Chunk];
        var scale = Vector256.Create(1f / (1 << 24));
        for (int start = 0; start < destination.Length; start += 2 * Chunk)
        {
            for (int i = 0; i < Chunk; i += Vector256<float>.Count)
            {
                // (r >> 8) + 1 in 1..2²⁴, so u ∈ (0, 1]: log(u) is finite.
                (Vector256.ConvertToSingle(((random.NextVector() >> 8) + Vector256<uint>.One).AsInt32()) * scale).CopyTo(u1[i..]);
                (Vector256.ConvertToSingle((random.NextVector() >> 8).AsInt32()) * scale).CopyTo(u2[i..]);
            }

            TensorPrimitives.Log(u1, u1);
            TensorPrimitives.Multiply(u1, -2f, u1);
            TensorPrimitives.Sqrt(u1, u1);
            TensorPrimitives.Multiply(u2, 2f, u2);
            TensorPrimitives.SinCosPi(u2, sin, cos);
            TensorPrimitives.Multiply(u1, cos, cos);
            TensorPrimitives.Multiply(u1, sin, sin);
            int count = Math.Min(Chunk, destination.Length - start);
            cos[..count].CopyTo(destination[start..]);
            if (destination.Length - start > Chunk)
            {
                int more = Math.Min(Chunk, destination.Length - start - Chunk);
                sin[..more].CopyTo(destination[(start + Chunk)..]);
            }
        }
    }
}
