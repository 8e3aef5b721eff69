namespace AtomoCollectives.Tests.Collectives;

public class NodeAllreduceTests
{
    /// <summary>
    /// The tensors read where they lie give, piece by piece, what their concatenation gives: every node rank's block,
    /// from every offset, every length, also across tensor boundaries.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    public void Concatenated_blocks_read_what_the_concatenation_holds(int nodeRanks)
    {
        int[] sizes = [5, 7, 1, 13];
        float[][] tensors = [.. sizes.Select((n, t) => Enumerable.Range(0, n).Select(i => (t * 100f) + i).ToArray())];
        float[] concatenated = [.. tensors.SelectMany(t => t)];
        var list = new TensorList([.. tensors.Select(t => new Memory<float>(t))], [.. sizes.Select(n => TensorShape.Vector(n))]);
        int[] counts = NodeAllreduce.SliceCounts(concatenated.Length, nodeRanks);

        for (int block = 0; block < nodeRanks; block++)
        {
            for (int from = 0; from <= counts[block]; from++)
            {
                for (int length = 0; from + length <= counts[block]; length++)
                {
                    var expected = new float[length];
                    var actual = new float[length];
                    new ContiguousBlocks(concatenated, counts).Read(block, from, expected);
                    new ConcatenatedBlocks<TensorList>(list, counts).Read(block, from, actual);
                    Assert.Equal(expected, actual);
                }
            }
        }
    }
}
