namespace AtomoCollectives;

/// <summary>
/// Derives independent, reproducible random streams from (seed, rank, step, tensor) by SplitMix64 mixing,
/// so that ranks draw independently and a rerun draws the same atoms.
/// </summary>
public static class SeedSequence
{
    /// <summary>The seed of the stream for one tensor of one rank at one step.</summary>
    public static ulong Derive(ulong seed, int rank, long step, int tensor)
    {
        ulong state = Mix(seed ^ 0x243F6A8885A308D3UL);
        state = Mix(state ^ (uint)rank);
        state = Mix(state ^ (ulong)step);
        return Mix(state ^ (uint)tensor);
    }

    /// <summary>The SplitMix64 finaliser: a bijection of 64-bit values with full avalanche.</summary>
    internal static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
