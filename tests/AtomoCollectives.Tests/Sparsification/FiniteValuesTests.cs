namespace AtomoCollectives.Tests.Sparsification;

/// <summary><see cref="FiniteValues"/>: the first NaN or infinity at every position of spans shorter and longer than a vector.</summary>
public sealed class FiniteValuesTests
{
    public static TheoryData<float> NonFinite() => [float.NaN, float.PositiveInfinity, float.NegativeInfinity];

    [Theory]
    [MemberData(nameof(NonFinite))]
    public void The_first_non_finite_value_is_found_at_every_position(float bad)
    {
        foreach (int length in new[] { 1, 7, 8, 9, 17, 40 })
        {
            for (int at = 0; at < length; at++)
            {
                float[] values = Values(length);
                values[at] = bad;
                values[^1] = length - 1 > at ? float.NaN : values[^1];   // a later one does not hide the first
                Assert.Equal(at, FiniteValues.IndexOfNonFinite(values));
            }
        }
    }

    [Fact]
    public void Finite_values_have_no_non_finite_index()
    {
        foreach (int length in new[] { 0, 1, 8, 13, 64 })
        {
            float[] values = Values(length);
            values[..Math.Min(2, length)].AsSpan().Fill(float.MaxValue);   // the largest finite values are finite
            Assert.Equal(-1, FiniteValues.IndexOfNonFinite(values));
        }
    }

    private static float[] Values(int length) => [.. Enumerable.Range(0, length).Select(i => (i % 5) - 2.5f)];
}
