namespace AtomoCollectives.Tests.Collectives;

/// <summary>
/// <see cref="TensorList"/> refuses two tensors that share memory (an all-dense call sums each where it lies, so a
/// region passed twice would be summed twice), naming both, and takes slices of one buffer that do not overlap.
/// </summary>
public sealed class TensorListTests
{
    [Fact]
    public void Separate_arrays_and_adjacent_slices_of_one_buffer_are_taken()
    {
        var flat = new float[30];
        Memory<float>[] tensors = [flat.AsMemory(0, 10), new float[5], flat.AsMemory(10, 20), Memory<float>.Empty, flat.AsMemory(0, 0)];
        Assert.Null(List(tensors).Error);
    }

    [Theory]
    [InlineData(0, 10, 5, 10)]   // the second starts inside the first
    [InlineData(5, 10, 0, 10)]   // the same, passed the other way round
    [InlineData(0, 30, 12, 3)]   // one inside the other
    [InlineData(7, 4, 7, 4)]     // the same region twice
    public void Overlapping_slices_are_refused_naming_both_tensors(int firstStart, int firstLength, int secondStart, int secondLength)
    {
        var flat = new float[30];
        var other = new float[30];
        Memory<float>[] tensors = [other, flat.AsMemory(firstStart, firstLength), new float[3], flat.AsMemory(secondStart, secondLength)];
        ArgumentException error = Assert.IsType<ArgumentException>(List(tensors).Error);
        Assert.Equal("tensors", error.ParamName);
        Assert.StartsWith("Tensors 1 and 3 share memory", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_overlap_after_many_slices_of_one_buffer_is_found()
    {
        var flat = new float[10_000];
        Memory<float>[] tensors = [.. Enumerable.Range(0, 100).Select(i => flat.AsMemory(i * 100, 100)), flat.AsMemory(5_050, 10)];
        Assert.Null(List(tensors[..100]).Error);
        Assert.StartsWith("Tensors 50 and 100 share memory", List(tensors).Error!.Message, StringComparison.Ordinal);
    }

    private static TensorList List(Memory<float>[] tensors) =>
        new(tensors, [.. tensors.Select(t => TensorShape.Vector(Math.Max(1, t.Length)))]);
}
