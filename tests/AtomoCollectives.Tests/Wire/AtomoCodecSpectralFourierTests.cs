using AtomoCollectives.Decompositions;
using AtomoCollectives.Tests.Sparsification;

namespace AtomoCollectives.Tests.Wire;

public class AtomoCodecSpectralFourierTests
{
    /// <summary>A 48×40 matrix of rank 6 plus noise: a few dominant singular values, a small residual.</summary>
    internal static float[] LowRankPlusNoise(int rows, int columns, int seed)
    {
        var random = new Random(seed);
        var m = new float[rows * columns];
        for (int k = 0; k < 6; k++)
        {
            double[] u = Enumerable.Range(0, rows).Select(_ => Reference.Gaussian(random)).ToArray();
            double[] v = Enumerable.Range(0, columns).Select(_ => Reference.Gaussian(random)).ToArray();
            for (int i = 0; i < rows; i++)
            {
                for (int j = 0; j < columns; j++)
                {
                    m[(i * columns) + j] += (float)(u[i] * v[j] / (k + 1));
                }
            }
        }

        for (int i = 0; i < m.Length; i++)
        {
            m[i] += (float)(0.05 * Reference.Gaussian(random));
        }

        return m;
    }

    public static TheoryData<Decomposition, Sampling, ValuePrecision, SpectralMethod> Cases()
    {
        var data = new TheoryData<Decomposition, Sampling, ValuePrecision, SpectralMethod>();
        foreach (Sampling sampling in Enum.GetValues<Sampling>())
        {
            foreach (ValuePrecision precision in Enum.GetValues<ValuePrecision>())
            {
                data.Add(Decomposition.Spectral, sampling, precision, SpectralMethod.Fast);
            }

            data.Add(Decomposition.Spectral, sampling, ValuePrecision.Float32, SpectralMethod.Exact);
            data.Add(Decomposition.Fourier, sampling, ValuePrecision.Float32, SpectralMethod.Fast);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Round_trip_decodes_the_sampled_estimate(Decomposition decomposition, Sampling sampling, ValuePrecision precision, SpectralMethod method)
    {
        TensorShape shape = TensorShape.Matrix(48, 40);
        float[] g = LowRankPlusNoise(48, 40, 1);
        var options = new AtomoOptions { Decomposition = decomposition, Sampling = sampling, SpectralPrecision = precision, SpectralMethod = method, Budget = decomposition == Decomposition.Fourier ? 200 : 3 };
        var codec = new AtomoCodec(options);
        byte[] payload = codec.Encode(g, shape, 5);
        Assert.Equal(decomposition, AtomoCodec.ReadHeader(payload).Decomposition);

        // The encoder's view of the same estimate: Σ (λ_i/p_i)·atom_i over the kept atoms (and, spectral, the kept
        // residual entries), rebuilt independently.
        IAtomDecomposition atoms = Decomposer.Create(decomposition);
        atoms.Decompose(g, shape, options, 5);
        var expected = new float[g.Length];
        atoms.AddAtoms(codec.LastSelection.Indices, codec.LastSelection.Values, expected);
        codec.LastResidualSelection.AddTo(expected);

        var decoded = new float[g.Length];
        codec.Decode(payload, decoded);

        // float32 vectors: the two reconstructions differ only by summation order (≤ 1e-5 of the estimate's norm);
        // 16-bit vectors add their rounding: 2⁻¹¹ (float16) or 2⁻⁸ (bfloat16) relative per vector, twice per atom.
        double tolerance = precision switch { ValuePrecision.Float32 => 1e-5, ValuePrecision.Float16 => 3 * Math.Pow(2, -11), _ => 3 * Math.Pow(2, -8) };
        double norm = Math.Sqrt(expected.Sum(x => (double)x * x));
        double error = Math.Sqrt(expected.Zip(decoded).Sum(p => Math.Pow(p.First - p.Second, 2)));
        Assert.True(error <= tolerance * norm, $"‖decoded − expected‖ = {error}, bound {tolerance * norm}");
    }

    [Fact]
    public void Spectral_payload_is_within_its_size_bound()
    {
        // Header (≤ 32 bytes) + 16 bytes of counts and scale + K·(m + n + 1)·4 bytes of rank-1 atoms, then the residual's
        // coordinate body: ≤ 24 bytes of counts and scale, Rice-coded positions (≤ log2(mn/k) + 2 bits each, docs) and
        // a sign bit per drawn entry, 4 bytes per exact one. Over seeds the mean stays near the byte budget
        // s·(m + n)·4, and every payload is far below dense.
        const int m = 256, n = 128;
        float[] g = LowRankPlusNoise(m, n, 2);
        var codec = new AtomoCodec(new AtomoOptions { Decomposition = Decomposition.Spectral, Budget = 3, Sampling = Sampling.Systematic });
        double total = 0;
        for (ulong seed = 0; seed < 20; seed++)
        {
            byte[] payload = codec.Encode(g, TensorShape.Matrix(m, n), seed);
            AtomSelection kept = codec.LastSelection, residual = codec.LastResidualSelection;
            int drawn = residual.Count - residual.ExactCount;
            Assert.True(drawn > 0, "the case needs residual entries");
            double positionBits = (drawn * (Math.Log2((double)m * n / drawn) + 3)) + (residual.ExactCount * (Math.Log2((double)m * n / Math.Max(1, residual.ExactCount)) + 3));
            long bound = 32 + 16 + ((long)kept.Count * (m + n + 1) * 4) + 24 + (long)Math.Ceiling(positionBits / 8) + (4L * residual.ExactCount);
            Assert.True(payload.Length <= bound, $"seed {seed}: {payload.Length} bytes for {kept.Count} + {residual.Count} atoms, bound {bound}");
            Assert.True(payload.Length < m * n * 4 / 10, $"seed {seed}: {payload.Length} bytes is not 10× below dense");
            total += payload.Length;
        }

        // The budget is 3·(m + n)·4 = 4,608 bytes of atoms; a payload's own fields add about 60.
        Assert.True(total / 20 <= (1.1 * 3 * (m + n) * 4) + 100, $"mean payload {total / 20} bytes");
    }

    [Fact]
    public void Sixteen_bit_vectors_halve_the_payload_and_their_extra_error_is_measured()
    {
        const int m = 128, n = 96;
        float[] g = LowRankPlusNoise(m, n, 3);
        TensorShape shape = TensorShape.Matrix(m, n);
        var sizes = new Dictionary<ValuePrecision, int>();
        var relativeError = new Dictionary<ValuePrecision, double>();
        foreach (ValuePrecision precision in Enum.GetValues<ValuePrecision>())
        {
            // The exact SVD, so that both codecs draw the same atoms (the fast method's budget in bytes would shift
            // between rank-1 atoms and residual entries with the vectors' cost) and only the rounding differs.
            var codec = new AtomoCodec(new AtomoOptions { Decomposition = Decomposition.Spectral, SpectralMethod = SpectralMethod.Exact, Budget = 3, SpectralPrecision = precision, Sampling = Sampling.Systematic });
            var reference = new AtomoCodec(new AtomoOptions { Decomposition = Decomposition.Spectral, SpectralMethod = SpectralMethod.Exact, Budget = 3, Sampling = Sampling.Systematic });
            var a = new float[g.Length];
            var b = new float[g.Length];
            double error = 0, energy = 0;
            for (ulong seed = 0; seed < 10; seed++)
            {
                byte[] payload = codec.Encode(g, shape, seed);
                sizes[precision] = payload.Length;
                codec.Decode(payload, a);
                reference.Decode(reference.Encode(g, shape, seed), b);
                error += a.Zip(b).Sum(p => Math.Pow(p.First - p.Second, 2));
                energy += b.Sum(x => (double)x * x);
            }

            relativeError[precision] = Math.Sqrt(error / energy);
        }

        Assert.Equal(0, relativeError[ValuePrecision.Float32]);
        Assert.InRange(relativeError[ValuePrecision.Float16], 1e-6, 2 * Math.Pow(2, -11));
        Assert.InRange(relativeError[ValuePrecision.BFloat16], 1e-5, 2 * Math.Pow(2, -8));
        Assert.True(sizes[ValuePrecision.Float16] < 0.6 * sizes[ValuePrecision.Float32]);
    }

    [Fact]
    public void A_matrix_view_too_thin_for_spectral_atoms_falls_back_to_coordinate()
    {
        var codec = new AtomoCodec(new AtomoOptions { Decomposition = Decomposition.Spectral, Budget = 3 });
        Assert.Equal(Decomposition.Coordinate, AtomoCodec.ReadHeader(codec.Encode(new float[300], TensorShape.Vector(300), 1)).Decomposition);
        Assert.Equal(Decomposition.Coordinate, AtomoCodec.ReadHeader(codec.Encode(new float[400], TensorShape.Matrix(4, 100), 1)).Decomposition);
        Assert.Equal(Decomposition.Spectral, AtomoCodec.ReadHeader(codec.Encode(new float[800], TensorShape.Of(8, 2, 5, 10), 1)).Decomposition);
    }

    [Fact]
    public void A_NaN_is_refused_before_any_decomposition()
    {
        float[] g = LowRankPlusNoise(16, 16, 4);
        g[100] = float.NaN;
        foreach (Decomposition decomposition in new[] { Decomposition.Spectral, Decomposition.Fourier })
        {
            var error = Assert.Throws<ArgumentException>(() => new AtomoCodec(new AtomoOptions { Decomposition = decomposition }).Encode(g, TensorShape.Matrix(16, 16), 1));
            Assert.Contains("100", error.Message);
        }
    }

    [Fact]
    public void A_version_1_payload_is_refused_by_name()
    {
        byte[] payload = new AtomoCodec(new AtomoOptions { Budget = 2 }).Encode(LowRankPlusNoise(16, 12, 5), TensorShape.Matrix(16, 12), 1);
        payload[4] = 1;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(payload.Length - 8), System.IO.Hashing.XxHash3.HashToUInt64(payload.AsSpan(0, payload.Length - 8)));
        var destination = new float[16 * 12];
        destination.AsSpan().Fill(7f);
        var error = Assert.Throws<AtomoFormatException>(() => new AtomoCodec(new AtomoOptions()).Decode(payload, destination));
        Assert.Equal("version", error.Field);
        Assert.Contains("version 1", error.Message);
        Assert.All(destination, x => Assert.Equal(7f, x));
    }

    /// <summary>The header's enum bytes are the documented table, whatever the enums' order (docs/wire-format.md).</summary>
    [Fact]
    public void Enum_wire_codes_are_the_documented_table()
    {
        (Decomposition Value, byte Code)[] decompositions = [(Decomposition.Coordinate, 0), (Decomposition.Spectral, 1), (Decomposition.Fourier, 2)];
        (Sampling Value, byte Code)[] samplings = [(Sampling.Independent, 0), (Sampling.Systematic, 1)];
        (ValuePrecision Value, byte Code)[] precisions = [(ValuePrecision.Float32, 0), (ValuePrecision.Float16, 1), (ValuePrecision.BFloat16, 2)];
        Assert.Equal(Enum.GetValues<Decomposition>().Length, decompositions.Length);
        Assert.Equal(Enum.GetValues<Sampling>().Length, samplings.Length);
        Assert.Equal(Enum.GetValues<ValuePrecision>().Length, precisions.Length);
        foreach ((Decomposition value, byte code) in decompositions)
        {
            Assert.Equal(code, WireCodes.Of(value));
            Assert.Equal(value, WireCodes.DecompositionOf(code));
        }

        foreach ((Sampling value, byte code) in samplings)
        {
            Assert.Equal(code, WireCodes.Of(value));
            Assert.Equal(value, WireCodes.SamplingOf(code));
        }

        foreach ((ValuePrecision value, byte code) in precisions)
        {
            Assert.Equal(code, WireCodes.Of(value));
            Assert.Equal(value, WireCodes.PrecisionOf(code));
        }

        Assert.Null(WireCodes.DecompositionOf(3));
        Assert.Null(WireCodes.SamplingOf(2));
        Assert.Null(WireCodes.PrecisionOf(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => WireCodes.Of((Decomposition)99));

        // And the bytes a payload carries: spectral (1), independent (0), bfloat16 (2).
        byte[] payload = new AtomoCodec(new AtomoOptions { Sampling = Sampling.Independent, SpectralPrecision = ValuePrecision.BFloat16 }).Encode(LowRankPlusNoise(16, 12, 5), TensorShape.Matrix(16, 12), 1);
        Assert.Equal([2, 1, 0, 2], payload[4..8]);
    }
}
