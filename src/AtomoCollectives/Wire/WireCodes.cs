namespace AtomoCollectives;

/// <summary>
/// The bytes that stand for the header's enums on the wire (docs/wire-format.md), written out here so that renaming,
/// reordering or adding members of <see cref="Decomposition"/>, <see cref="Sampling"/> or <see cref="ValuePrecision"/>
/// cannot change the format. An unknown byte reads as null.
/// </summary>
internal static class WireCodes
{
    /// <summary>
    /// Fourier atoms on blocks (<see cref="AtomoOptions.FourierBlockLength"/>): a decomposition byte of its own, the block
    /// length following the shape, so that code 2 (one DCT of the whole tensor) keeps its meaning and a reader that
    /// predates blocks refuses these payloads as an unknown decomposition instead of misreading them.
    /// </summary>
    public const byte FourierOnBlocks = 3;

    public static byte Of(Decomposition decomposition) => decomposition switch
    {
        Decomposition.Coordinate => 0,
        Decomposition.Spectral => 1,
        Decomposition.Fourier => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(decomposition), decomposition, "No wire code for this decomposition."),
    };

    public static byte Of(Sampling sampling) => sampling switch
    {
        Sampling.Independent => 0,
        Sampling.Systematic => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(sampling), sampling, "No wire code for this sampling."),
    };

    public static byte Of(ValuePrecision precision) => precision switch
    {
        ValuePrecision.Float32 => 0,
        ValuePrecision.Float16 => 1,
        ValuePrecision.BFloat16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "No wire code for this precision."),
    };

    public static Decomposition? DecompositionOf(byte code) => code switch
    {
        0 => Decomposition.Coordinate,
        1 => Decomposition.Spectral,
        2 => Decomposition.Fourier,
        _ => null,
    };

    public static Sampling? SamplingOf(byte code) => code switch
    {
        0 => Sampling.Independent,
        1 => Sampling.Systematic,
        _ => null,
    };

    public static ValuePrecision? PrecisionOf(byte code) => code switch
    {
        0 => ValuePrecision.Float32,
        1 => ValuePrecision.Float16,
        2 => ValuePrecision.BFloat16,
        _ => null,
    };
}
