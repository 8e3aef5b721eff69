using System.Numerics;

namespace AtomoCollectives.Tests.Collectives;

public sealed class PiecesTests
{
    /// <summary>
    /// A piece is 10⁶ floats up to 62 ranks, then 16,000 floats per rank (64 kB per ring step); neither rule gives a power
    /// of two, whose pieces measured 25–50 % slower (docs/node-aware.md, "Pieces").
    /// </summary>
    [Theory]
    [InlineData(1, 1_000_000)]
    [InlineData(8, 1_000_000)]
    [InlineData(62, 1_000_000)]
    [InlineData(63, 1_008_000)]
    [InlineData(1024, 16_384_000)]
    [InlineData(200_000, 2_147_483_591)]   // Array.MaxLength: one piece can never exceed an array
    public void A_piece_is_a_million_floats_or_64_kB_per_rank(int ranks, int floats)
    {
        Assert.Equal(floats, Pieces.AllreducePiece(ranks, Pieces.DefaultAllreduceFloats, Pieces.DefaultAllreduceBlockFloats));   // the defaults: another test changes the settings
        Assert.False(BitOperations.IsPow2(floats));
    }

    [Fact]
    public void An_allreduce_in_pieces_sums_every_element_once()
    {
        int piece = Pieces.AllreducePiece(2);
        float[][] results = InProcessCluster.Run(2, comm =>
        {
            var data = new float[(2 * piece) + 3];
            Array.Fill(data, comm.Rank + 1);
            Pieces.AllreduceSum(comm, data);
            return data;
        });

        Assert.All(results, r => Assert.All(r, v => Assert.Equal(3f, v)));
    }

    /// <summary>The mean in pieces: each piece summed once and scaled once (1 + 2 + 3 + 4 = 10, times 0.25).</summary>
    [Fact]
    public void An_allreduce_in_pieces_scales_every_element_once()
    {
        int piece = Pieces.AllreducePiece(4);
        float[][] results = InProcessCluster.Run(4, comm =>
        {
            var data = new float[(2 * piece) + 3];
            Array.Fill(data, comm.Rank + 1);
            Pieces.AllreduceSum(comm, data, 0.25f);
            return data;
        });

        Assert.All(results, r => Assert.All(r, v => Assert.Equal(2.5f, v)));
    }
}
