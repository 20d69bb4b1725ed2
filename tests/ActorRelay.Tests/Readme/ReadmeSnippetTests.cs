using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace ActorRelay.Tests.Readme;

/// <summary>
/// Every C# block of the README compiles as printed (usings included), as a program of its own against the same
/// assemblies the tests use, so a snippet cannot rot when the API changes. The program has the SDK's implicit usings,
/// as a project made from the .NET templates does (System, System.Linq, System.Threading.Tasks, ...).
/// </summary>
public sealed class ReadmeSnippetTests
{
    private static string Root
    {
        get
        {
            var d = new DirectoryInfo(AppContext.BaseDirectory);
            while (d is not null && !File.Exists(Path.Combine(d.FullName, "ActorRelay.sln"))) d = d.Parent;
            return d?.FullName ?? throw new InvalidOperationException("run from inside the repository");
        }
    }

    public static IEnumerable<object[]> Snippets() =>
        Regex.Matches(File.ReadAllText(Path.Combine(Root, "README.md")), "```csharp\n(.*?)```", RegexOptions.Singleline)
            .Select((m, i) => new object[] { i + 1, m.Groups[1].Value });

    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    private static readonly Lazy<IReadOnlyList<MetadataReference>> References = new(() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Concat(Directory.GetFiles(AppContext.BaseDirectory, "*.dll"))
            .DistinctBy(Path.GetFileName)
            .Where(p => !Path.GetFileName(p).StartsWith("ActorRelay.Tests", StringComparison.Ordinal))
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToList());

    [Fact]
    public void The_readme_has_snippets() => Assert.True(Snippets().Count() >= 2);

    [Theory]
    [MemberData(nameof(Snippets))]
    public void Each_csharp_block_of_the_readme_compiles_as_printed(int number, string code)
    {
        var compilation = CSharpCompilation.Create($"ReadmeSnippet{number}",
            [CSharpSyntaxTree.ParseText(code, new CSharpParseOptions(LanguageVersion.Latest)),
             CSharpSyntaxTree.ParseText(ImplicitUsings, new CSharpParseOptions(LanguageVersion.Latest))],
            References.Value,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        using var output = new MemoryStream();
        var result = compilation.Emit(output);
        var errors = result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString()).ToList();
        Assert.True(result.Success, $"README snippet {number} does not compile:\n{string.Join("\n", errors)}\n---\n{code}");
    }
}
