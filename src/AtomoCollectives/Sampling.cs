namespace AtomoCollectives;

/// <summary>How atoms are drawn once their inclusion probabilities are known.</summary>
public enum Sampling
{
    /// <summary>The paper's independent Bernoulli draw per atom: the number sent varies from call to call.</summary>
    Independent,

    /// <summary>
    /// Systematic sampling: one uniform <c>u</c>; atom <c>i</c> is kept where the running sum of probabilities
    /// crosses <c>u + j</c>. Same marginals and variance as <see cref="Independent"/>, exactly
    /// <c>⌊Σp⌋</c> or <c>⌈Σp⌉</c> atoms, so the payload size is predictable.
    /// </summary>
    Systematic,
}
