using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace ActorRelay.NodeProcess;

/// <summary>
/// Reads a HOCON file strictly. Akka's parser is lenient where a mistake should stop the node: it accepts a section
/// that is never closed (<c>relay {</c> up to the end of the file), a stray closing brace, and a value it cannot read,
/// and it fails with a null reference on an include. Here brackets must balance (outside strings and comments), an
/// include names a file that exists (relative to the including file), and every failure is a
/// <see cref="UsageException"/> naming the file and the line.
/// </summary>
internal static class HoconText
{
    /// <summary>Parses <paramref name="file"/> with its includes; throws <see cref="UsageException"/> for what cannot be read.</summary>
    public static Config ParseFile(string file)
    {
        if (!File.Exists(file)) throw new UsageException($"Configuration file not found: {file}");
        var text = File.ReadAllText(file);
        CheckBalanced(text, file);
        var directory = Path.GetDirectoryName(Path.GetFullPath(file))!;
        try
        {
            return ConfigurationFactory.ParseString(text, name => Include(name, directory, file, depth: 1));
        }
        catch (UsageException) { throw; }
        catch (Exception e) { throw new UsageException($"Invalid configuration file {file}: {e.Message}"); }
    }

    private static HoconRoot Include(string name, string directory, string from, int depth)
    {
        if (depth > 16) throw new UsageException($"{from}: include \"{name}\": includes nested more than 16 deep (a loop?)");
        var path = Path.IsPathRooted(name) ? name : Path.Combine(directory, name);
        if (!File.Exists(path)) throw new UsageException($"{from}: include \"{name}\": file not found ({Path.GetFullPath(path)})");
        var text = File.ReadAllText(path);
        CheckBalanced(text, path);
        var inner = Path.GetDirectoryName(Path.GetFullPath(path))!;
        return Parser.Parse(text, next => Include(next, inner, path, depth + 1));
    }

    /// <summary>
    /// Brackets ({ } and [ ]) balance outside quoted strings and comments, and every string is closed; otherwise a
    /// <see cref="UsageException"/> naming <paramref name="where"/> and the line.
    /// </summary>
    public static void CheckBalanced(string text, string where)
    {
        var open = new Stack<(char Bracket, int Line)>();
        var line = 1;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\n') { line++; continue; }
            if (c == '#' || c == '/' && i + 1 < text.Length && text[i + 1] == '/')
            {
                while (i + 1 < text.Length && text[i + 1] != '\n') i++;
                continue;
            }
            if (c == '"')
            {
                var start = line;
                if (i + 2 < text.Length && text[i + 1] == '"' && text[i + 2] == '"')
                {
                    var end = text.IndexOf("\"\"\"", i + 3, StringComparison.Ordinal);
                    if (end < 0) throw new UsageException($"{where}, line {start}: a \"\"\" string is never closed");
                    line += text.AsSpan(i, end - i).Count('\n');
                    i = end + 2;
                    continue;
                }
                i++;
                while (i < text.Length && text[i] != '"' && text[i] != '\n')
                {
                    if (text[i] == '\\') i++;
                    i++;
                }
                if (i >= text.Length || text[i] == '\n') throw new UsageException($"{where}, line {start}: a quoted string is never closed");
                continue;
            }
            if (c is '{' or '[') open.Push((c, line));
            else if (c is '}' or ']')
            {
                var expected = c == '}' ? '{' : '[';
                if (open.Count == 0) throw new UsageException($"{where}, line {line}: '{c}' closes nothing");
                var (bracket, at) = open.Pop();
                if (bracket != expected)
                    throw new UsageException($"{where}, line {line}: '{c}' closes the '{bracket}' of line {at}");
            }
        }
        if (open.Count > 0)
        {
            var (bracket, at) = open.Peek();
            throw new UsageException($"{where}, line {at}: '{bracket}' is never closed");
        }
    }
}
