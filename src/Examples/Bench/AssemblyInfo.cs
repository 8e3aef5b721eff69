using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Examples.Tests")]
