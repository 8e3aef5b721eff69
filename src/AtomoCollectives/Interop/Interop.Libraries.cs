namespace AtomoCollectives;

internal static partial class Interop
{
    /// <summary>Library names used by the imports, in one place.</summary>
    internal static partial class Libraries
    {
        /// <summary>
        /// Logical name of OpenBLAS in the imports. It is not a file name: default probing fails for it and
        /// <see cref="OpenBlasLibrary"/> resolves it to the library it loaded (the system's <see cref="OpenBlasDefaultFile"/>,
        /// or the path in <see cref="OpenBlasPathVariable"/>).
        /// </summary>
        internal const string OpenBlas = "atomo-openblas";

        /// <summary>The system OpenBLAS (Debian/Ubuntu package libopenblas0-pthread).</summary>
        internal const string OpenBlasDefaultFile = "libopenblas.so.0";

        /// <summary>Environment variable naming another OpenBLAS library file to load instead.</summary>
        internal const string OpenBlasPathVariable = "ATOMO_OPENBLAS_LIBRARY";

        /// <summary>How to install the default library.</summary>
        internal const string OpenBlasInstallHint = "install it with 'apt-get install libopenblas0-pthread' (or set ATOMO_OPENBLAS_LIBRARY to a libopenblas file)";
    }
}
