using System.Globalization;
using System.Text;

namespace ActorRelay.Nat.Tests.Sip;

/// <summary>Input that is not the bencode (or NG message) it should be.</summary>
public sealed class BencodeException(string message) : Exception(message);

/// <summary>
/// Bencode as the NG control protocol uses it: byte strings (held as UTF-8 text; NG strings are text such as
/// SDP), integers, lists and dictionaries (insertion order kept, which is the order the peer sent). The decoder
/// reads untrusted input: it never reads out of bounds, never allocates more than the input's length, limits
/// nesting, and throws nothing but <see cref="BencodeException"/>.
/// </summary>
public static class Bencode
{
    public const int MaxDepth = 32;

    public static byte[] Encode(object value)
    {
        var sb = new MemoryStream();
        Write(sb, value);
        return sb.ToArray();
    }

    private static void Write(MemoryStream s, object value)
    {
        switch (value)
        {
            case string str:
                WriteBytes(s, Encoding.UTF8.GetBytes(str));
                break;
            case byte[] bytes:
                WriteBytes(s, bytes);
                break;
            case int or long:
                Ascii(s, $"i{Convert.ToInt64(value, CultureInfo.InvariantCulture)}e");
                break;
            case IReadOnlyDictionary<string, object> dict:
                s.WriteByte((byte)'d');
                foreach (var (k, v) in dict) { WriteBytes(s, Encoding.UTF8.GetBytes(k)); Write(s, v); }
                s.WriteByte((byte)'e');
                break;
            case IEnumerable<object> list:
                s.WriteByte((byte)'l');
                foreach (var v in list) Write(s, v);
                s.WriteByte((byte)'e');
                break;
            default:
                throw new ArgumentException($"cannot bencode {value.GetType().Name}");
        }
    }

    private static void WriteBytes(MemoryStream s, byte[] bytes)
    {
        Ascii(s, bytes.Length.ToString(CultureInfo.InvariantCulture) + ":");
        s.Write(bytes);
    }

    private static void Ascii(MemoryStream s, string text) => s.Write(Encoding.ASCII.GetBytes(text));

    /// <summary>Decodes one value that must fill <paramref name="input"/> exactly.</summary>
    public static object Decode(ReadOnlySpan<byte> input)
    {
        var pos = 0;
        var value = Read(input, ref pos, 0);
        if (pos != input.Length) throw new BencodeException($"{input.Length - pos} trailing bytes after the value");
        return value;
    }

    private static object Read(ReadOnlySpan<byte> input, ref int pos, int depth)
    {
        if (depth > MaxDepth) throw new BencodeException("nested too deeply");
        if (pos >= input.Length) throw new BencodeException("input ends where a value should start");
        var c = input[pos];
        switch (c)
        {
            case (byte)'i':
            {
                pos++;
                var end = input[pos..].IndexOf((byte)'e');
                if (end < 1 || end > 20) throw new BencodeException("integer without a proper end");
                if (!long.TryParse(input.Slice(pos, end), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n))
                    throw new BencodeException("integer that does not parse");
                pos += end + 1;
                return n;
            }
            case (byte)'l':
            {
                pos++;
                var list = new List<object>();
                while (true)
                {
                    if (pos >= input.Length) throw new BencodeException("list without an end");
                    if (input[pos] == (byte)'e') { pos++; return list; }
                    list.Add(Read(input, ref pos, depth + 1));
                }
            }
            case (byte)'d':
            {
                pos++;
                var dict = new Dictionary<string, object>();
                while (true)
                {
                    if (pos >= input.Length) throw new BencodeException("dictionary without an end");
                    if (input[pos] == (byte)'e') { pos++; return dict; }
                    if (input[pos] is < (byte)'0' or > (byte)'9') throw new BencodeException("dictionary key is not a string");
                    var key = ReadString(input, ref pos);
                    dict[key] = Read(input, ref pos, depth + 1);
                }
            }
            case >= (byte)'0' and <= (byte)'9':
                return ReadString(input, ref pos);
            default:
                throw new BencodeException($"unexpected byte 0x{c:x2} at {pos}");
        }
    }

    private static string ReadString(ReadOnlySpan<byte> input, ref int pos)
    {
        var colon = input[pos..].IndexOf((byte)':');
        if (colon < 1 || colon > 9) throw new BencodeException("string length without a colon");
        if (!int.TryParse(input.Slice(pos, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var length))
            throw new BencodeException("string length that does not parse");
        pos += colon + 1;
        if (length > input.Length - pos) throw new BencodeException($"string of {length} bytes where {input.Length - pos} remain");
        var text = Encoding.UTF8.GetString(input.Slice(pos, length));
        pos += length;
        return text;
    }

    /// <summary>A compact one-line rendering for logs (JSON-like; long strings cut to <paramref name="maxString"/>).</summary>
    public static string Render(object value, int maxString = 60)
    {
        var sb = new StringBuilder();
        Render(sb, value, maxString);
        return sb.ToString();
    }

    private static void Render(StringBuilder sb, object value, int maxString)
    {
        switch (value)
        {
            case string s:
                var shown = s.Length > maxString ? s[..maxString] + $"…({s.Length} chars)" : s;
                sb.Append('"').Append(shown.Replace("\r\n", "\\r\\n").Replace("\n", "\\n")).Append('"');
                break;
            case long or int:
                sb.Append(Convert.ToInt64(value, CultureInfo.InvariantCulture));
                break;
            case IReadOnlyDictionary<string, object> d:
                sb.Append('{');
                var first = true;
                foreach (var (k, v) in d)
                {
                    if (!first) sb.Append(", ");
                    first = false;
                    sb.Append('"').Append(k).Append("\": ");
                    Render(sb, v, maxString);
                }
                sb.Append('}');
                break;
            case IEnumerable<object> l:
                sb.Append('[');
                var firstItem = true;
                foreach (var v in l)
                {
                    if (!firstItem) sb.Append(", ");
                    firstItem = false;
                    Render(sb, v, maxString);
                }
                sb.Append(']');
                break;
            default:
                sb.Append(value);
                break;
        }
    }
}

/// <summary>
/// One NG datagram: "&lt;cookie&gt; &lt;bencoded dictionary&gt;". The cookie pairs a reply with its request.
/// </summary>
public sealed record NgMessage(string Cookie, IReadOnlyDictionary<string, object> Body)
{
    public byte[] ToBytes() => [.. Encoding.ASCII.GetBytes(Cookie + " "), .. Bencode.Encode(Body)];

    public static NgMessage Parse(ReadOnlySpan<byte> datagram)
    {
        var space = datagram.IndexOf((byte)' ');
        if (space < 1 || space > 64) throw new BencodeException("NG message without a cookie");
        var body = Bencode.Decode(datagram[(space + 1)..]) as IReadOnlyDictionary<string, object>
                   ?? throw new BencodeException("NG message body is not a dictionary");
        return new NgMessage(Encoding.ASCII.GetString(datagram[..space]), body);
    }

    public string? Str(string key) => Body.TryGetValue(key, out var v) ? v as string : null;

    public override string ToString() => $"{Cookie} {Bencode.Render(Body)}";
}
