namespace AtomoCollectives.Tests.Randomness;

/// <summary>The named streams stay apart and keep their bits (a recorded run repeats only if they do).</summary>
public class RandomStreamsTests
{
    [Fact]
    public void The_streams_of_one_call_are_pairwise_distinct()
    {
        // Over a grid of seeds, ranks, steps and tensors: no seed serves two of the library's streams.
        var seen = new Dictionary<ulong, string>();
        foreach (ulong seed in new ulong[] { 0, 1, 2018 })
        {
            for (int rank = 0; rank < 4; rank++)
            {
                for (long step = 0; step < 4; step++)
                {
                    for (int tensor = 0; tensor < 4; tensor++)
                    {
                        ulong encoder = RandomStreams.Encoder(seed, rank, step, tensor);
                        Add(seen, encoder, $"encoder {seed}/{rank}/{step}/{tensor}");
                        Add(seen, RandomStreams.Draw(encoder), $"draw {seed}/{rank}/{step}/{tensor}");
                        Add(seen, RandomStreams.Residual(RandomStreams.Draw(encoder)), $"residual {seed}/{rank}/{step}/{tensor}");
                        Add(seen, RandomStreams.Sketch(encoder), $"sketch {seed}/{rank}/{step}/{tensor}");
                        Add(seen, RandomStreams.NodeEncoder(seed, rank, step, tensor), $"node encoder {seed}/{rank}/{step}/{tensor}");
                        if (rank == 0)
                        {
                            Add(seen, RandomStreams.Shared(seed, step, tensor), $"shared {seed}/{step}/{tensor}");
                        }
                    }
                }
            }
        }
    }

    [Fact]
    public void The_derivations_keep_their_bits()
    {
        // Values of this library's first release of the named streams; a change here changes every recorded run.
        Assert.Equal(SeedSequence.Derive(7, 1, 2, 3), RandomStreams.Encoder(7, 1, 2, 3));
        Assert.Equal(SeedSequence.Derive(7, -1, 2, 3), RandomStreams.Shared(7, 2, 3));
        Assert.Equal(SeedSequence.Mix(11UL ^ 0x5A4D504C494E47UL), RandomStreams.Draw(11));
        Assert.Equal(SeedSequence.Mix(11UL ^ 0x5245534944554C53UL), RandomStreams.Residual(11));
        Assert.Equal(11UL ^ 0x5851F42D4C957F2DUL, RandomStreams.Sketch(11));
        Assert.Equal(RandomStreams.Encoder(5, 0, 9, 0), RandomStreams.DataOrder(5, 9)); // the documented overlap
        Assert.Equal(0xE220A8397B1DCDAFUL, SeedSequence.Mix(0));
    }

    private static void Add(Dictionary<ulong, string> seen, ulong value, string name)
    {
        Assert.False(seen.TryGetValue(value, out string? other), $"{name} and {other} share the seed {value:x16}");
        seen[value] = name;
    }
}
