using System.Runtime.InteropServices;

namespace AtomoCollectives;

internal static partial class Interop
{
    /// <summary>The few libc calls the MPI binding needs: the native environment and dynamic loader flags.</summary>
    internal static partial class Libc
    {
        internal const int RTLD_NOW = 0x2;
        internal const int RTLD_NOLOAD = 0x4;
        internal const int RTLD_GLOBAL = 0x100;

        /// <summary><c>int setenv(const char*, const char*, int)</c>: changes the native environment, which
        /// <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not do on Unix.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int SetEnv(string name, string value, int overwrite);

        /// <summary><c>void* dlopen(const char*, int)</c>.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "dlopen", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial nint DlOpen(string path, int flags);

        /// <summary><c>char* dlerror(void)</c>.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "dlerror")]
        internal static partial nint DlError();
    }
}
