namespace AtomoCollectives.Tests.Sparsification;

/// <summary>
/// <see cref="FiniteValues"/>: the first NaN or infinity at every position of spans shorter and longer than a vector,
/// and the copy that stops there.
/// </summary>
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

                float[] copy = [.. Enumerable.Repeat(-7f, length + 3)];
                Assert.Equal(at, FiniteValues.CopyUntilNonFinite(values, copy));
                Assert.Equal(values[..at], copy[..at]);
                Assert.All(copy[at..], v => Assert.Equal(-7f, v));   // nothing from the first bad value on
            }
        }
    }

    [Fact]
    public void Finite_values_are_copied_whole()
    {
        foreach (int length in new[] { 0, 1, 8, 13, 64 })
        {
            float[] values = Values(length);
            values[..Math.Min(2, length)].AsSpan().Fill(float.MaxValue);   // the largest finite values are finite
            var copy = new float[length + 1];
            Assert.Equal(-1, FiniteValues.IndexOfNonFinite(values));
            Assert.Equal(-1, FiniteValues.CopyUntilNonFinite(values, copy));
            Assert.Equal(values, copy[..length]);
        }
    }

    [Fact]
    public void A_short_destination_is_refused_before_anything_is_copied()
    {
        var copy = new float[3];
        ArgumentException error = Assert.Throws<ArgumentException>(() => FiniteValues.CopyUntilNonFinite(Values(4), copy));
        Assert.Equal("destination", error.ParamName);
        Assert.All(copy, v => Assert.Equal(0f, v));
    }

    private static float[] Values(int length) => [.. Enumerable.Range(0, length).Select(i => (i % 5) - 2.5f)];
}
