namespace AtomoCollectives.Examples.Data;

/// <summary>Images scaled to [0, 1] (one row of <see cref="Pixels"/> values per image) and their labels 0–9.</summary>
public sealed record LabeledImages(float[] Images, byte[] Labels, int Height, int Width)
{
    /// <summary>Number of images.</summary>
    public int Count => Labels.Length;

    /// <summary>Values per image.</summary>
    public int Pixels => Height * Width;

    /// <summary>Image <paramref name="index"/>'s pixels.</summary>
    public ReadOnlySpan<float> Image(int index) => Images.AsSpan(index * Pixels, Pixels);
}

/// <summary>
/// Fashion-MNIST (Xiao et al. 2017) from the four IDX files of Debian's <c>dataset-fashion-mnist</c> package
/// (<c>/usr/share/datasets/fashion-mnist</c>), gzip-compressed or not.
/// </summary>
public static class FashionMnist
{
    /// <summary>Where Debian's <c>dataset-fashion-mnist</c> installs the files.</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>The ten classes, in label order.</summary>
    public static readonly IReadOnlyList<string> Classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Loads the training set (60,000 images) or the test set (10,000) from <paramref name="directory"/>.</summary>
    /// <param name="directory">The directory holding <c>train-images-idx3-ubyte[.gz]</c> and the other three files.</param>
    /// <param name="training">The training set (<c>train-*</c>) or the test set (<c>t10k-*</c>).</param>
    /// <param name="limit">Keep only the first this many images (0: all).</param>
    /// <exception cref="FileNotFoundException">A file is missing; the message says how to install the data set.</exception>
    /// <exception cref="IdxFormatException">A file is truncated or corrupt, or images and labels disagree.</exception>
    public static LabeledImages Load(string directory, bool training, int limit = 0)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        string prefix = training ? "train" : "t10k";
        string imagesPath = Locate(directory, $"{prefix}-images-idx3-ubyte");
        string labelsPath = Locate(directory, $"{prefix}-labels-idx1-ubyte");
        (int[] imageSizes, byte[] pixels) = IdxReader.Read(imagesPath, 3);
        (int[] labelSizes, byte[] labels) = IdxReader.Read(labelsPath, 1);
        if (imageSizes[0] != labelSizes[0])
        {
            throw new IdxFormatException(labelsPath, $"{labelSizes[0]:N0} labels for the {imageSizes[0]:N0} images of {imagesPath}");
        }

        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= Classes.Count)
            {
                throw new IdxFormatException(labelsPath, $"label {labels[i]} at index {i} is not a class (0–9)");
            }
        }

        int count = limit == 0 ? labels.Length : Math.Min(limit, labels.Length);
        int perImage = imageSizes[1] * imageSizes[2];
        var images = new float[(long)count * perImage];
        for (int i = 0; i < images.Length; i++)
        {
            images[i] = pixels[i] / 255f;
        }

        return new LabeledImages(images, labels[..count], imageSizes[1], imageSizes[2]);
    }

    private static string Locate(string directory, string name)
    {
        foreach (string candidate in new[] { name, name + ".gz" })
        {
            string path = Path.Combine(directory, candidate);
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new FileNotFoundException(
            $"Fashion-MNIST file {name}[.gz] not found in {directory}. Install the data set with 'sudo apt-get install dataset-fashion-mnist' "
            + $"(or 'bash scripts/install-dependencies.sh'), or point --data at a directory holding the four IDX files.",
            Path.Combine(directory, name));
    }
}
