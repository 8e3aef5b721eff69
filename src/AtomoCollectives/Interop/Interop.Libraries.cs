using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.InteropServices;

namespace AtomoCollectives;

internal static partial class Interop
{
    /// <summary>
    /// Every native library name used by this assembly, in one place. Names that are chosen at run time
    /// (MPI: Open MPI, MPICH or a path from <c>ATOMO_MPI_LIBRARY</c>) are logical names that
    /// <see cref="Register"/> binds to an already loaded handle before the first call.
    /// </summary>
    internal static partial class Libraries
    {
        /// <summary>Logical name of the MPI library picked by <see cref="MpiEnvironment"/>.</summary>
        internal const string Mpi = "atomo-mpi";

        /// <summary>The C library (glibc 2.34+ also exports <c>dlopen</c>).</summary>
        internal const string Libc = "libc.so.6";

        /// <summary>Open MPI's library, as loaded when nothing else is configured.</summary>
        internal const string OpenMpiDefault = "libmpi.so.40";

        /// <summary>MPICH's library, as loaded when nothing else is configured.</summary>
        internal const string MpichDefault = "libmpich.so.12";

        private static readonly ConcurrentDictionary<string, nint> s_registered = new(StringComparer.Ordinal);
        private static int s_resolverInstalled;

        /// <summary>
        /// Binds a logical library name to a handle from <see cref="NativeLibrary.Load(string)"/>. The
        /// assembly's single <see cref="NativeLibrary.SetDllImportResolver"/> is installed here, so any other
        /// run-time bound library must register through this method too (a second resolver would throw).
        /// </summary>
        internal static void Register(string logicalName, nint handle)
        {
            s_registered[logicalName] = handle;
            if (Interlocked.Exchange(ref s_resolverInstalled, 1) == 0)
            {
                NativeLibrary.SetDllImportResolver(typeof(Interop).Assembly, Resolve);
            }
        }

        private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
            => s_registered.TryGetValue(libraryName, out nint handle) ? handle : 0;

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

        /// <summary>
        /// Logical name of single-precision FFTW in the imports; <see cref="FftwLibrary"/> binds it through
        /// <see cref="Register"/> to the library it loaded (<see cref="FftwDefaultFile"/> or <see cref="FftwPathVariable"/>).
        /// </summary>
        internal const string Fftw = "atomo-fftw3f";

        /// <summary>The system single-precision FFTW (Debian/Ubuntu package libfftw3-single3).</summary>
        internal const string FftwDefaultFile = "libfftw3f.so.3";

        /// <summary>Environment variable naming another single-precision FFTW library file to load instead.</summary>
        internal const string FftwPathVariable = "ATOMO_FFTW_LIBRARY";

        /// <summary>How to install the default library.</summary>
        internal const string FftwInstallHint = "install it with 'apt-get install libfftw3-single3' (or set ATOMO_FFTW_LIBRARY to a libfftw3f file)";
    }
}
