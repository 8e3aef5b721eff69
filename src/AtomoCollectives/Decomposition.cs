namespace AtomoCollectives;

/// <summary>The orthonormal basis a tensor is written in before its atoms are sparsified.</summary>
public enum Decomposition
{
    /// <summary>Unit vectors: the atoms are the tensor's own entries.</summary>
    Coordinate,

    /// <summary>Rank-1 singular-vector atoms <c>u_i v_iᵀ</c> of the tensor's matrix view.</summary>
    Spectral,

    /// <summary>An orthonormal real Fourier basis (DCT-II) of the flattened tensor.</summary>
    Fourier,
}
