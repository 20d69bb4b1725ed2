using System.Buffers;
using System.Globalization;
using System.Text;

namespace ActorRelay.Ng;

// Bencode (the NG protocol's wire format): byte strings "<length>:<bytes>", integers "i<digits>e", lists
// "l...e" and dictionaries "d<key><value>...e". NG byte strings map to .NET strings one byte per char
// (Latin-1), so call-ids, tags and cookies round-trip exactly whatever bytes they hold.

/// <summary>Malformed or over-limit bencode input. <see cref="Reason"/> says what, <see cref="Offset"/> where.</summary>
public sealed class BencodeException(string reason, int offset) : Exception($"{reason} at offset {offset}")
{
    public string Reason { get; } = reason;
    public int Offset { get; } = offset;
}

/// <summary>Limits for decoding untrusted input.</summary>
public sealed record BencodeLimits(int MaxDepth = 32, int MaxInputLength = 65_536)
{
    public static readonly BencodeLimits Default = new();
}

/// <summary>A bencode value: <see cref="BString"/>, <see cref="BInteger"/>, <see cref="BList"/> or <see cref="BDictionary"/>. Immutable, compared by content.</summary>
public abstract class BValue
{
    internal static readonly Encoding Latin1 = Encoding.Latin1;

    public static implicit operator BValue(string text) => new BString(text);
    public static implicit operator BValue(long value) => new BInteger(value);
    public static implicit operator BValue(byte[] bytes) => new BString(bytes);

    public override string ToString() => Latin1.GetString(Bencode.Encode(this, canonical: false));
}

public sealed class BString : BValue, IEquatable<BString>
{
    private readonly byte[] _bytes;

    public BString(ReadOnlySpan<byte> bytes) => _bytes = bytes.ToArray();

    /// <summary>One byte per char (Latin-1); chars above U+00FF become '?'.</summary>
    public BString(string text) => _bytes = Latin1.GetBytes(text);

    public ReadOnlyMemory<byte> Bytes => _bytes;
    public ReadOnlySpan<byte> Span => _bytes;

    /// <summary>The bytes as a string, one char per byte (lossless).</summary>
    public string Text => Latin1.GetString(_bytes);

    public bool Equals(BString? other) => other is not null && _bytes.AsSpan().SequenceEqual(other._bytes);
    public override bool Equals(object? obj) => Equals(obj as BString);
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.AddBytes(_bytes);
        return h.ToHashCode();
    }
}

public sealed class BInteger(long value) : BValue, IEquatable<BInteger>
{
    public long Value { get; } = value;
    public bool Equals(BInteger? other) => other is not null && other.Value == Value;
    public override bool Equals(object? obj) => Equals(obj as BInteger);
    public override int GetHashCode() => Value.GetHashCode();
}

public sealed class BList : BValue, IEquatable<BList>
{
    public BList(IEnumerable<BValue> items) => Items = items.ToArray();
    public BList(params BValue[] items) => Items = items.ToArray();

    public IReadOnlyList<BValue> Items { get; }

    public bool Equals(BList? other) => other is not null && Items.SequenceEqual(other.Items);
    public override bool Equals(object? obj) => Equals(obj as BList);
    public override int GetHashCode() => Items.Count;
}

/// <summary>
/// A dictionary in the order its entries were received (or built). Decoding keeps duplicate keys; a lookup
/// returns the last one, as rtpengine (which applies entries in order) effectively does.
/// </summary>
public sealed class BDictionary : BValue, IEquatable<BDictionary>
{
    public BDictionary(IEnumerable<KeyValuePair<string, BValue>> entries) => Entries = entries.ToArray();

    private BDictionary(KeyValuePair<string, BValue>[] entries) => Entries = entries;

    /// <summary>Builds a dictionary from pairs; pairs with a null value are left out (optional keys).</summary>
    public static BDictionary Of(params (string Key, BValue? Value)[] entries)
    {
        // every NG reply is built here: one array of the entries, no iterators (docs/benchmarks.md, "NG reply time")
        var count = 0;
        foreach (var e in entries)
            if (e.Value is not null) count++;
        var kept = new KeyValuePair<string, BValue>[count];
        var i = 0;
        foreach (var e in entries)
            if (e.Value is not null) kept[i++] = KeyValuePair.Create(e.Key, e.Value);
        return new BDictionary(kept);
    }

    public IReadOnlyList<KeyValuePair<string, BValue>> Entries { get; }

    public BValue? this[string key]
    {
        get
        {
            for (var i = Entries.Count - 1; i >= 0; i--)
                if (Entries[i].Key == key) return Entries[i].Value;
            return null;
        }
    }

    public bool Equals(BDictionary? other) => other is not null && Entries.SequenceEqual(other.Entries);
    public override bool Equals(object? obj) => Equals(obj as BDictionary);
    public override int GetHashCode() => Entries.Count;
}

public static class Bencode
{
    /// <summary>Decodes exactly one value filling the whole input; anything malformed, over a limit or trailing throws <see cref="BencodeException"/>.</summary>
    public static BValue Decode(ReadOnlySpan<byte> input, BencodeLimits? limits = null)
    {
        limits ??= BencodeLimits.Default;
        if (input.Length > limits.MaxInputLength)
            throw new BencodeException($"input of {input.Length} bytes exceeds the limit of {limits.MaxInputLength}", limits.MaxInputLength);
        var reader = new Reader(input, limits.MaxDepth);
        var value = reader.ReadValue(0);
        if (reader.Position != input.Length)
            throw new BencodeException("trailing data after the value", reader.Position);
        return value;
    }

    /// <summary>Decodes a top-level dictionary (what every NG message is).</summary>
    public static BDictionary DecodeDictionary(ReadOnlySpan<byte> input, BencodeLimits? limits = null)
    {
        if (input.Length > 0 && input[0] != (byte)'d')
            throw new BencodeException("not a dictionary", 0);
        return (BDictionary)Decode(input, limits);
    }

    /// <summary>
    /// Encodes a value. Canonical (the default, for replies): dictionary keys sorted by their bytes, each once
    /// (a duplicate is a programming error: <see cref="ArgumentException"/>). Non-canonical keeps entry order.
    /// </summary>
    public static byte[] Encode(BValue value, bool canonical = true)
    {
        var buffer = Scratch();
        Encode(value, buffer, canonical);
        return buffer.WrittenSpan.ToArray();
    }

    [ThreadStatic] private static ArrayBufferWriter<byte>? _scratch;

    /// <summary>
    /// An empty buffer of the calling thread, for a value encoded and then copied out (replies are encoded at NG's setup
    /// rate: a new buffer each time grew through 256, 512, 1,024... bytes of garbage per reply). Not reentrant: the
    /// caller copies what it wrote before it encodes again.
    /// </summary>
    internal static ArrayBufferWriter<byte> Scratch()
    {
        var buffer = _scratch ??= new ArrayBufferWriter<byte>(4096);
        buffer.ResetWrittenCount();
        return buffer;
    }

    public static void Encode(BValue value, IBufferWriter<byte> output, bool canonical = true)
    {
        // Written straight into the output: lengths and integers formatted in place, keys encoded from their chars,
        // nothing allocated (a dictionary's sorted order is kept on the stack up to 64 keys; every reply is encoded:
        // NG's setup rate).
        switch (value)
        {
            case BString s:
                WriteBytes(output, s.Span);
                break;
            case BInteger i:
                WriteByte(output, (byte)'i');
                WriteInteger(output, i.Value);
                WriteByte(output, (byte)'e');
                break;
            case BList l:
                WriteByte(output, (byte)'l');
                foreach (var item in l.Items) Encode(item, output, canonical);
                WriteByte(output, (byte)'e');
                break;
            case BDictionary d:
                WriteByte(output, (byte)'d');
                var entries = d.Entries;
                if (!canonical || entries.Count < 2)
                {
                    foreach (var (key, item) in entries) WriteEntry(output, key, item, canonical);
                }
                else
                {
                    var order = entries.Count <= 64 ? stackalloc int[entries.Count] : new int[entries.Count];
                    SortKeys(entries, order);
                    for (var k = 1; k < order.Length; k++)
                        if (entries[order[k]].Key == entries[order[k - 1]].Key)
                            throw new ArgumentException($"duplicate dictionary key \"{entries[order[k]].Key}\"", nameof(value));
                    foreach (var k in order) WriteEntry(output, entries[k].Key, entries[k].Value, canonical);
                }
                WriteByte(output, (byte)'e');
                break;
            default:
                throw new ArgumentException($"not a bencode value: {value.GetType().Name}", nameof(value));
        }
    }

    /// <summary>
    /// Fills <paramref name="order"/> with the entries' indexes sorted by key (ordinal), equal keys in entry order: an
    /// insertion sort, stable and without a delegate (a reply has a dozen keys or so).
    /// </summary>
    private static void SortKeys(IReadOnlyList<KeyValuePair<string, BValue>> entries, Span<int> order)
    {
        for (var i = 0; i < order.Length; i++)
        {
            var key = entries[i].Key;
            var j = i - 1;
            while (j >= 0 && string.CompareOrdinal(entries[order[j]].Key, key) > 0)
            {
                order[j + 1] = order[j];
                j--;
            }
            order[j + 1] = i;
        }
    }

    private static void WriteEntry(IBufferWriter<byte> output, string key, BValue item, bool canonical)
    {
        // a key is a byte string of its chars, one byte each (Latin-1, as BString(string) makes it)
        WriteInteger(output, key.Length);
        WriteByte(output, (byte)':');
        var span = output.GetSpan(key.Length);
        for (var i = 0; i < key.Length; i++) span[i] = key[i] <= 0xFF ? (byte)key[i] : (byte)'?';
        output.Advance(key.Length);
        Encode(item, output, canonical);
    }

    private static void WriteBytes(IBufferWriter<byte> output, ReadOnlySpan<byte> bytes)
    {
        WriteInteger(output, bytes.Length);
        WriteByte(output, (byte)':');
        output.Write(bytes);
    }

    private static void WriteInteger(IBufferWriter<byte> output, long value)
    {
        var span = output.GetSpan(20);
        if (!System.Buffers.Text.Utf8Formatter.TryFormat(value, span, out var written))
            throw new InvalidOperationException("an integer did not fit 20 bytes"); // a long has at most 20 characters
        output.Advance(written);
    }

    private static void WriteByte(IBufferWriter<byte> output, byte b)
    {
        output.GetSpan(1)[0] = b;
        output.Advance(1);
    }

    private ref struct Reader(ReadOnlySpan<byte> input, int maxDepth)
    {
        private readonly ReadOnlySpan<byte> _input = input;
        public int Position;

        public BValue ReadValue(int depth)
        {
            var b = Peek();
            switch (b)
            {
                case (byte)'i':
                    return new BInteger(ReadInteger());
                case (byte)'l':
                {
                    Enter(depth);
                    Position++;
                    var items = new List<BValue>();
                    while (Peek() != (byte)'e') items.Add(ReadValue(depth + 1));
                    Position++;
                    return new BList(items);
                }
                case (byte)'d':
                {
                    Enter(depth);
                    Position++;
                    var entries = new List<KeyValuePair<string, BValue>>();
                    while (Peek() != (byte)'e')
                    {
                        if (!IsDigit(Peek())) throw new BencodeException("dictionary key is not a byte string", Position);
                        var key = BValue.Latin1.GetString(ReadStringBytes());
                        entries.Add(KeyValuePair.Create(key, ReadValue(depth + 1)));
                    }
                    Position++;
                    return new BDictionary(entries);
                }
                default:
                    if (IsDigit(b)) return new BString(ReadStringBytes());
                    throw new BencodeException($"unexpected byte 0x{b:x2}", Position);
            }
        }

        private void Enter(int depth)
        {
            if (depth >= maxDepth) throw new BencodeException($"nesting deeper than {maxDepth}", Position);
        }

        private byte Peek()
        {
            if (Position >= _input.Length) throw new BencodeException("unexpected end of input", Position);
            return _input[Position];
        }

        // "<length>:<bytes>": the length is checked against the bytes actually left before anything is copied.
        private ReadOnlySpan<byte> ReadStringBytes()
        {
            var start = Position;
            if (_input[Position] == (byte)'0' && Position + 1 < _input.Length && IsDigit(_input[Position + 1]))
                throw new BencodeException("leading zero in a string length", start);
            long length = 0;
            while (IsDigit(Peek()))
            {
                if (Position - start == 10) throw new BencodeException("string length of more than 10 digits", start);
                length = length * 10 + (_input[Position] - '0');
                Position++;
            }
            if (_input[Position] != (byte)':') throw new BencodeException("expected ':' after a string length", Position);
            Position++;
            if (length > _input.Length - Position)
                throw new BencodeException($"string length {length} exceeds the {_input.Length - Position} bytes left", start);
            var bytes = _input.Slice(Position, (int)length);
            Position += (int)length;
            return bytes;
        }

        // "i<digits>e": no leading zeros, no "-0", no empty digits, must fit in a long.
        private long ReadInteger()
        {
            var start = Position;
            Position++;
            var negative = Peek() == (byte)'-';
            if (negative) Position++;
            var first = Position;
            if (!IsDigit(Peek())) throw new BencodeException("integer without digits", start);
            if (_input[first] == (byte)'0' && IsDigit(Peek(first + 1)))
                throw new BencodeException("leading zero in an integer", start);
            long value = 0; // accumulated negatively so long.MinValue fits
            while (IsDigit(Peek()))
            {
                var digit = _input[Position] - '0';
                if (value < (long.MinValue + digit) / 10) throw new BencodeException("integer does not fit in 64 bits", start);
                value = value * 10 - digit;
                Position++;
            }
            if (_input[Position] != (byte)'e') throw new BencodeException("expected 'e' after an integer", Position);
            Position++;
            if (negative && value == 0) throw new BencodeException("negative zero", start);
            if (!negative && value == long.MinValue) throw new BencodeException("integer does not fit in 64 bits", start);
            return negative ? value : -value;
        }

        private byte Peek(int at)
        {
            if (at >= _input.Length) throw new BencodeException("unexpected end of input", at);
            return _input[at];
        }

        private static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';
    }
}
