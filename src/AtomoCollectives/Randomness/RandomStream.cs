using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace AtomoCollectives;

/// <summary>
/// Eight xoshiro128** generators side by side, one per 32-bit lane of a <see cref="Vector256{T}"/>, plus a
/// SplitMix64 stream for the rare draws that need more bits. The lane layout is fixed at eight on every
/// machine, so a seed gives the same draws whatever the vector width of the hardware.
/// </summary>
internal struct RandomStream
{
    private Vector256<uint> _s0, _s1, _s2, _s3;
    private ulong _scalarState;

    public RandomStream(ulong seed)
    {
        Span<uint> words = stackalloc uint[32];
        ulong state = seed;
        for (int i = 0; i < words.Length; i += 2)
        {
            state += 0x9E3779B97F4A7C15UL;
            ulong z = SeedSequence.Mix(state);
            words[i] = (uint)z;
            words[i + 1] = (uint)(z >> 32);
        }

        // xoshiro must not start from an all-zero state; SplitMix64 output makes that astronomically unlikely,
        // but a fixed non-zero word makes it impossible.
        for (int lane = 0; lane < 8; lane++)
        {
            words[lane] |= 1;
        }

        _s0 = Vector256.Create<uint>(words[..8]);
        _s1 = Vector256.Create<uint>(words[8..16]);
        _s2 = Vector256.Create<uint>(words[16..24]);
        _s3 = Vector256.Create<uint>(words[24..32]);
        _scalarState = SeedSequence.Mix(seed ^ 0xD1B54A32D192ED03UL);
    }

    /// <summary>Eight uniform 32-bit words.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<uint> NextVector() => Next(ref _s0, ref _s1, ref _s2, ref _s3);

    /// <summary>Copies the vector state out, so a hot loop can keep it in registers (see <see cref="Next"/>).</summary>
    public readonly void Save(out Vector256<uint> s0, out Vector256<uint> s1, out Vector256<uint> s2, out Vector256<uint> s3) =>
        (s0, s1, s2, s3) = (_s0, _s1, _s2, _s3);

    /// <summary>Puts back the vector state a hot loop advanced.</summary>
    public void Restore(Vector256<uint> s0, Vector256<uint> s1, Vector256<uint> s2, Vector256<uint> s3) =>
        (_s0, _s1, _s2, _s3) = (s0, s1, s2, s3);

    /// <summary>One xoshiro128** step of eight lanes; inlined into loops over local copies of the state.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> Next(ref Vector256<uint> s0, ref Vector256<uint> s1, ref Vector256<uint> s2, ref Vector256<uint> s3)
    {
        Vector256<uint> s1Times5 = (s1 << 2) + s1;
        Vector256<uint> rotated = (s1Times5 << 7) | (s1Times5 >> 25);
        Vector256<uint> result = (rotated << 3) + rotated;

        Vector256<uint> t = s1 << 9;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = (s3 << 11) | (s3 >> 21);
        return result;
    }

    /// <summary>A uniform 64-bit word from the scalar stream.</summary>
    public ulong NextUInt64()
    {
        _scalarState += 0x9E3779B97F4A7C15UL;
        return SeedSequence.Mix(_scalarState);
    }

    /// <summary>A uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));
}
