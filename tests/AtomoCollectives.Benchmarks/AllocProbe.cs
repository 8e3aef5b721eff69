namespace AtomoCollectives.Benchmarks;
internal static class AllocProbe
{
    public static void Run()
    {
        var options = new AtomoOptions();
        var codec = new AtomoCodec(options);
        var sketch = new Decompositions.SpectralSketch();
        var random = new Random(1);
        foreach (TensorShape shape in Soak.Sets["model"])
        {
            if (shape.Rank == 1) continue;
            var g = new float[shape.ElementCount];
            for (int i = 0; i < g.Length; i++) g[i] = (float)(random.NextDouble() - 0.5);
            var writer = new System.Buffers.ArrayBufferWriter<byte>();
            for (int warm = 0; warm < 3; warm++) { writer.ResetWrittenCount(); codec.Encode(g, shape, 1, sketch, writer); }
            long a0 = GC.GetAllocatedBytesForCurrentThread();
            writer.ResetWrittenCount();
            codec.Encode(g, shape, 2, sketch, writer);
            long a1 = GC.GetAllocatedBytesForCurrentThread();
            byte[] payload = writer.WrittenSpan.ToArray();
            var d = new float[g.Length];
            codec.BeginAccumulate(g.Length); codec.Accumulate(payload, 1f); codec.FinishAccumulate(d, 1f, false);
            long a2 = GC.GetAllocatedBytesForCurrentThread();
            codec.BeginAccumulate(g.Length); codec.Accumulate(payload, 1f); codec.FinishAccumulate(d, 1f, false);
            long a3 = GC.GetAllocatedBytesForCurrentThread();
            Console.WriteLine($"{shape}: encode allocates {a1 - a0} B, decode {a3 - a2} B");
        }
    }
}
