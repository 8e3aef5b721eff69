using AtomoCollectives.Decompositions;

namespace AtomoCollectives.Tests.Collectives;

public class AveragerStateTests
{
    private static readonly AveragerState.Header Saved = new("AtomoAllreduce", 0x1234, Rank: 1, Size: 4, Step: 17);

    private static byte[] Write(Action<BinaryWriter> body)
    {
        var stream = new MemoryStream();
        AveragerState.Write(stream, Saved, body);
        return stream.ToArray();
    }

    [Fact]
    public void A_state_round_trips_with_its_step_and_body()
    {
        var sketch = new SpectralSketch();
        float[] basis = [.. Enumerable.Range(0, 2 * 5).Select(i => i / 10f)];
        sketch.Store(3, 5, 2, basis);
        sketch.CountWarmCall();
        byte[] bytes = Write(w => sketch.Save(w));

        (long step, BinaryReader body) = AveragerState.Read(new MemoryStream(bytes), Saved with { Step = 0 });
        SpectralSketch loaded = AveragerState.ReadBody(body, SpectralSketch.Load);

        Assert.Equal(17, step);
        Assert.Equal(basis, loaded.BasisFor(3, 5, 2).ToArray());
        Assert.Equal(1, loaded.WarmCalls);
    }

    [Fact]
    public void An_empty_sketch_round_trips_as_empty()
    {
        byte[] bytes = Write(w => new SpectralSketch().Save(w));
        SpectralSketch loaded = AveragerState.ReadBody(AveragerState.Read(new MemoryStream(bytes), Saved).Body, SpectralSketch.Load);
        Assert.Equal(0, loaded.Rows);
    }

    [Theory]
    [InlineData("kind", "saved by AtomoAllreduce, not PowerSgdAllreduce")]
    [InlineData("options", "other options")]
    [InlineData("rank", "rank 1 of 4; this is rank 2 of 4")]
    [InlineData("size", "rank 1 of 4; this is rank 1 of 8")]
    public void A_state_from_elsewhere_is_refused_naming_the_difference(string field, string message)
    {
        AveragerState.Header expected = field switch
        {
            "kind" => Saved with { Kind = "PowerSgdAllreduce" },
            "options" => Saved with { OptionsHash = 0x99 },
            "rank" => Saved with { Rank = 2 },
            _ => Saved with { Size = 8 },
        };
        byte[] bytes = Write(w => w.Write(7));
        InvalidDataException error = Assert.Throws<InvalidDataException>(() => AveragerState.Read(new MemoryStream(bytes), expected));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    /// <summary>Every single flipped byte and every truncation is refused (the checksum or the magic catches it).</summary>
    [Fact]
    public void Any_corruption_or_truncation_is_refused()
    {
        var sketch = new SpectralSketch();
        sketch.Store(4, 4, 2, new float[8]);
        byte[] bytes = Write(w => sketch.Save(w));
        for (int i = 0; i < bytes.Length; i++)
        {
            byte[] flipped = (byte[])bytes.Clone();
            flipped[i] ^= 0x40;
            Assert.Throws<InvalidDataException>(() => AveragerState.ReadBody(AveragerState.Read(new MemoryStream(flipped), Saved).Body, SpectralSketch.Load));
        }

        for (int length = 0; length < bytes.Length; length++)
        {
            Assert.Throws<InvalidDataException>(() => AveragerState.ReadBody(AveragerState.Read(new MemoryStream(bytes[..length]), Saved).Body, SpectralSketch.Load));
        }
    }

    [Fact]
    public void A_body_read_short_or_long_is_refused()
    {
        byte[] bytes = Write(w => { w.Write(1); w.Write(2); });
        InvalidDataException left = Assert.Throws<InvalidDataException>(() => AveragerState.ReadBody(AveragerState.Read(new MemoryStream(bytes), Saved).Body, r => r.ReadInt32()));
        Assert.Contains("4 bytes after its body", left.Message, StringComparison.Ordinal);
        InvalidDataException shortBody = Assert.Throws<InvalidDataException>(() => AveragerState.ReadBody(AveragerState.Read(new MemoryStream(bytes), Saved).Body, r => r.ReadInt64() + r.ReadInt32()));
        Assert.Contains("truncated", shortBody.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_impossible_sketch_is_refused()
    {
        byte[] bytes = Write(w => { w.Write(3); w.Write(5); w.Write(4); w.Write(0L); AveragerState.WriteFloats(w, new float[20]); });
        InvalidDataException error = Assert.Throws<InvalidDataException>(() => AveragerState.ReadBody(AveragerState.Read(new MemoryStream(bytes), Saved).Body, SpectralSketch.Load));
        Assert.Contains("3×5 warm-start basis of width 4", error.Message, StringComparison.Ordinal);
    }
}
