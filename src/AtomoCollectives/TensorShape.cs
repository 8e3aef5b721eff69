using System.Text;

namespace AtomoCollectives;

/// <summary>The dimensions of a dense, row-major tensor.</summary>
public readonly struct TensorShape : IEquatable<TensorShape>
{
    private readonly int[]? _dimensions;

    private TensorShape(int[] dimensions, int elementCount)
    {
        _dimensions = dimensions;
        ElementCount = elementCount;
    }

    /// <summary>The number of elements: the product of the dimensions.</summary>
    public int ElementCount { get; }

    /// <summary>The number of dimensions.</summary>
    public int Rank => _dimensions?.Length ?? 0;

    /// <summary>The dimensions, outermost first.</summary>
    public ReadOnlySpan<int> Dimensions => _dimensions;

    /// <summary>Dimension <paramref name="axis"/>.</summary>
    public int this[int axis] => _dimensions![axis];

    /// <summary>
    /// The matrix view used by spectral atoms: a 2-D tensor is itself, an N-D tensor <c>(d0, d1, …)</c>
    /// is <c>(d0, d1·d2·…)</c>, a 1-D tensor of length n is <c>(1, n)</c>.
    /// </summary>
    public (int Rows, int Columns) MatrixView => Rank switch
    {
        0 => (0, 0),
        1 => (1, _dimensions![0]),
        _ => (_dimensions![0], _dimensions[0] == 0 ? 0 : ElementCount / _dimensions[0]),
    };

    /// <summary>A 1-D tensor of length <paramref name="length"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative.</exception>
    public static TensorShape Vector(int length) => Of(length);

    /// <summary>A 2-D tensor.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is negative or the element count exceeds <see cref="int.MaxValue"/>.</exception>
    public static TensorShape Matrix(int rows, int columns) => Of(rows, columns);

    /// <summary>A tensor with the given dimensions, outermost first.</summary>
    /// <exception cref="ArgumentException">No dimensions were given.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is negative or the element count exceeds <see cref="int.MaxValue"/>.</exception>
    public static TensorShape Of(params int[] dimensions)
    {
        ArgumentNullException.ThrowIfNull(dimensions);
        if (dimensions.Length == 0)
        {
            throw new ArgumentException("A tensor shape needs at least one dimension.", nameof(dimensions));
        }

        long count = 1;
        for (int axis = 0; axis < dimensions.Length; axis++)
        {
            if (dimensions[axis] < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(dimensions), dimensions[axis], $"Dimension {axis} is negative.");
            }

            count *= dimensions[axis];
            if (count > int.MaxValue)
            {
                throw new ArgumentOutOfRangeException(nameof(dimensions), $"The shape {Format(dimensions)} has more than {int.MaxValue} elements.");
            }
        }

        return new TensorShape((int[])dimensions.Clone(), (int)count);
    }

    /// <inheritdoc />
    public bool Equals(TensorShape other) => Dimensions.SequenceEqual(other.Dimensions);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is TensorShape other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (int dimension in Dimensions)
        {
            hash.Add(dimension);
        }

        return hash.ToHashCode();
    }

    /// <summary>Shapes are equal when their dimensions are.</summary>
    public static bool operator ==(TensorShape left, TensorShape right) => left.Equals(right);

    /// <summary>Shapes differ when their dimensions do.</summary>
    public static bool operator !=(TensorShape left, TensorShape right) => !left.Equals(right);

    /// <summary>The dimensions as <c>(d0×d1×…)</c>.</summary>
    public override string ToString() => Format(Dimensions);

    private static string Format(ReadOnlySpan<int> dimensions)
    {
        var text = new StringBuilder("(");
        for (int axis = 0; axis < dimensions.Length; axis++)
        {
            text.Append(axis == 0 ? "" : "×").Append(dimensions[axis]);
        }

        return text.Append(')').ToString();
    }
}
