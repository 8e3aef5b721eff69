namespace AtomoCollectives.Examples.Models;

/// <summary>Softmax cross-entropy of logits against integer labels, averaged over the batch.</summary>
internal static class SoftmaxCrossEntropy
{
    /// <summary>Writes the gradient of the mean loss to <paramref name="gradient"/>; returns the summed loss and the correct count.</summary>
    public static (double LossSum, int Correct) Evaluate(ReadOnlySpan<float> logits, ReadOnlySpan<byte> labels, int classes, Span<float> gradient)
    {
        double loss = 0;
        int correct = 0;
        float scale = 1f / labels.Length;
        for (int sample = 0; sample < labels.Length; sample++)
        {
            ReadOnlySpan<float> row = logits.Slice(sample * classes, classes);
            Span<float> rowGradient = gradient.Slice(sample * classes, classes);
            int best = ArgMax(row);
            float max = row[best];
            double sum = 0;
            for (int c = 0; c < classes; c++)
            {
                sum += Math.Exp(row[c] - max);
            }

            int label = labels[sample];
            loss += Math.Log(sum) - (row[label] - max);
            correct += best == label ? 1 : 0;
            for (int c = 0; c < classes; c++)
            {
                double probability = Math.Exp(row[c] - max) / sum;
                rowGradient[c] = (float)(probability - (c == label ? 1 : 0)) * scale;
            }
        }

        return (loss, correct);
    }

    public static int CountCorrect(ReadOnlySpan<float> logits, ReadOnlySpan<byte> labels, int classes)
    {
        int correct = 0;
        for (int sample = 0; sample < labels.Length; sample++)
        {
            correct += ArgMax(logits.Slice(sample * classes, classes)) == labels[sample] ? 1 : 0;
        }

        return correct;
    }

    private static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int c = 1; c < row.Length; c++)
        {
            if (row[c] > row[best])
            {
                best = c;
            }
        }

        return best;
    }
}
