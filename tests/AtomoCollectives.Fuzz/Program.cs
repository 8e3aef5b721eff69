using AtomoCollectives;
using SharpFuzz;

// AtomoCollectives.Fuzz               AFL++ target (stdin / shared memory, via SharpFuzz)
// AtomoCollectives.Fuzz seed DIR      writes a seed corpus of valid payloads into DIR
// AtomoCollectives.Fuzz replay DIR    runs every file in DIR through the target without a fuzzer (CI)
// Nothing of the (instrumented) library may run before Fuzzer.OutOfProcess.Run has mapped AFL's coverage
// bitmap, so the codec is created inside the callback.
AtomoCodec? codec = null;
switch (args.FirstOrDefault())
{
    case "seed":
        return Corpus.Write(args[1]);
    case "replay":
        int files = 0;
        foreach (string file in Directory.EnumerateFiles(args[1]))
        {
            Target.Decode(codec ??= new AtomoCodec(new AtomoOptions()), File.ReadAllBytes(file));
            files++;
        }

        Console.WriteLine($"replayed {files} inputs: only AtomoFormatException was raised");
        return 0;
    default:
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            Target.Decode(codec ??= new AtomoCodec(new AtomoOptions()), buffer.ToArray());
        });
        return 0;
}

internal static class Target
{
    /// <summary>
    /// Decodes arbitrary bytes; a malformed payload may only raise <see cref="AtomoFormatException"/>. The
    /// trailing checksum is recomputed first: a fuzzer cannot forge XxHash3, and what it should explore is the
    /// parser behind it (the checksum has its own unit tests).
    /// </summary>
    public static void Decode(AtomoCodec codec, byte[] input)
    {
        if (input.Length >= 8)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(input.AsSpan(input.Length - 8), System.IO.Hashing.XxHash3.HashToUInt64(input.AsSpan(0, input.Length - 8)));
        }

        try
        {
            (_, _, _, TensorShape shape) = AtomoCodec.ReadHeader(input);
            if (shape.ElementCount > 1 << 22)
            {
                return; // a valid header for a huge tensor: allocating its destination is not the reader's bug
            }

            codec.Decode(input, new float[shape.ElementCount]);
        }
        catch (AtomoFormatException)
        {
        }
    }
}

internal static class Corpus
{
    public static int Write(string directory)
    {
        Directory.CreateDirectory(directory);
        var random = new Random(1);
        float[] gradient = Enumerable.Range(0, 4096).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        AtomoOptions[] options =
        [
            new() { Decomposition = Decomposition.Coordinate, Budget = 20 },
            new() { Decomposition = Decomposition.Coordinate, Budget = 3000 },
            new() { Decomposition = Decomposition.Coordinate, Budget = 50, BucketSize = 512, Sampling = Sampling.Independent },
            AtomoOptions.TernGrad(256),
            AtomoOptions.Qsgd(128),
        ];
        for (int i = 0; i < options.Length; i++)
        {
            File.WriteAllBytes(Path.Combine(directory, $"seed-{i}.atmo"), new AtomoCodec(options[i]).Encode(gradient, TensorShape.Matrix(64, 64), (ulong)i));
        }

        Console.WriteLine($"wrote {options.Length} seed payloads to {directory}");
        return 0;
    }
}
