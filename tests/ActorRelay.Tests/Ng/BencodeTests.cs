using System.Text;
using ActorRelay.Ng;
using Xunit;

namespace ActorRelay.Tests.Ng;

public sealed class BencodeTests
{
    private static BValue Decode(string text, BencodeLimits? limits = null) => Bencode.Decode(Encoding.Latin1.GetBytes(text), limits);
    private static string Encode(BValue value, bool canonical = true) => Encoding.Latin1.GetString(Bencode.Encode(value, canonical));

    [Fact]
    public void Decodes_an_ng_ping_and_keeps_dictionary_order()
    {
        var d = Assert.IsType<BDictionary>(Decode("d7:command4:ping1:b1:x1:a1:ye"));
        Assert.Equal(["command", "b", "a"], d.Entries.Select(e => e.Key));
        Assert.Equal(new BString("ping"), d["command"]);
        Assert.Null(d["missing"]);
    }

    [Theory]
    [InlineData("i0e", 0L)]
    [InlineData("i42e", 42L)]
    [InlineData("i-1e", -1L)]
    [InlineData("i9223372036854775807e", long.MaxValue)]
    [InlineData("i-9223372036854775808e", long.MinValue)]
    public void Decodes_valid_integers(string text, long value) =>
        Assert.Equal(value, Assert.IsType<BInteger>(Decode(text)).Value);

    [Theory]
    [InlineData("ie", "integer without digits")]
    [InlineData("i-e", "integer without digits")]
    [InlineData("i+1e", "integer without digits")]
    [InlineData("i-0e", "negative zero")]
    [InlineData("i01e", "leading zero in an integer")]
    [InlineData("i-01e", "leading zero in an integer")]
    [InlineData("i00e", "leading zero in an integer")]
    [InlineData("i9223372036854775808e", "integer does not fit in 64 bits")]
    [InlineData("i-9223372036854775809e", "integer does not fit in 64 bits")]
    [InlineData("i99999999999999999999999e", "integer does not fit in 64 bits")]
    [InlineData("i1", "unexpected end of input")]
    [InlineData("i1xe", "expected 'e' after an integer")]
    public void Rejects_malformed_integers(string text, string reason) =>
        Assert.Equal(reason, Assert.Throws<BencodeException>(() => Decode(text)).Reason);

    [Theory]
    [InlineData("0:", "")]
    [InlineData("4:spam", "spam")]
    [InlineData("11:hello world", "hello world")]
    public void Decodes_byte_strings(string text, string value) =>
        Assert.Equal(value, Assert.IsType<BString>(Decode(text)).Text);

    [Theory]
    [InlineData("01:a", "leading zero in a string length", 0)]
    [InlineData("4spam", "expected ':' after a string length", 1)]
    [InlineData("4:", "string length 4 exceeds the 0 bytes left", 0)]
    [InlineData("5:abc", "string length 5 exceeds the 3 bytes left", 0)]
    [InlineData(":a", "unexpected byte 0x3a", 0)]
    [InlineData("-1:a", "unexpected byte 0x2d", 0)]
    public void Rejects_malformed_strings(string text, string reason, int offset)
    {
        var e = Assert.Throws<BencodeException>(() => Decode(text));
        Assert.Equal(reason, e.Reason);
        Assert.Equal(offset, e.Offset);
        Assert.Contains($"at offset {offset}", e.Message);
    }

    [Fact]
    public void A_huge_declared_length_is_refused_before_any_allocation()
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<BencodeException>(() => Decode("99999999999999999999999999:abc"));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal("string length of more than 10 digits", e.Reason);
        Assert.True(allocated < 64 * 1024, $"allocated {allocated} bytes");
    }

    [Theory]
    [InlineData("i1ex", "trailing data after the value", 3)]
    [InlineData("d7:command4:pingee", "trailing data after the value", 17)]
    [InlineData("4:spam\n", "trailing data after the value", 6)]
    [InlineData("d3:abc", "unexpected end of input", 6)]
    [InlineData("l4:spam", "unexpected end of input", 7)]
    [InlineData("di1ei2ee", "dictionary key is not a byte string", 1)]
    [InlineData("l4:spami01ee", "leading zero in an integer", 7)]
    [InlineData("", "unexpected end of input", 0)]
    [InlineData("x", "unexpected byte 0x78", 0)]
    public void Reports_what_is_wrong_and_where(string text, string reason, int offset)
    {
        var e = Assert.Throws<BencodeException>(() => Decode(text));
        Assert.Equal((reason, offset), (e.Reason, e.Offset));
    }

    [Fact]
    public void Nesting_is_limited()
    {
        var ok = new string('l', 32) + new string('e', 32);
        Assert.IsType<BList>(Decode(ok));
        var deep = new string('l', 33) + new string('e', 33);
        Assert.Equal("nesting deeper than 32", Assert.Throws<BencodeException>(() => Decode(deep)).Reason);
        var dicts = string.Concat(Enumerable.Repeat("d1:a", 40)) + "i1e" + new string('e', 40);
        Assert.Equal("nesting deeper than 32", Assert.Throws<BencodeException>(() => Decode(dicts)).Reason);
        var hostile = new string('l', 60_000);
        Assert.Equal("nesting deeper than 32", Assert.Throws<BencodeException>(() => Decode(hostile)).Reason);
        Assert.IsType<BList>(Decode("lllleeee", new BencodeLimits(MaxDepth: 4)));
        Assert.Throws<BencodeException>(() => Decode("llllleeeee", new BencodeLimits(MaxDepth: 4)));
    }

    [Fact]
    public void Input_size_is_limited()
    {
        var text = "40:" + new string('x', 40);
        Assert.IsType<BString>(Decode(text, new BencodeLimits(MaxInputLength: 43)));
        var e = Assert.Throws<BencodeException>(() => Decode(text, new BencodeLimits(MaxInputLength: 42)));
        Assert.Equal("input of 43 bytes exceeds the limit of 42", e.Reason);
    }

    [Fact]
    public void A_top_level_dictionary_is_demanded_where_one_is_expected()
    {
        Assert.Equal("not a dictionary", Assert.Throws<BencodeException>(() => Bencode.DecodeDictionary("li1ee"u8)).Reason);
        Assert.Empty(Bencode.DecodeDictionary("de"u8).Entries);
    }

    [Fact]
    public void Duplicate_keys_are_kept_in_order_and_the_last_one_wins_a_lookup()
    {
        var d = Assert.IsType<BDictionary>(Decode("d3:sdp1:a3:sdp1:be"));
        Assert.Equal(2, d.Entries.Count);
        Assert.Equal("b", ((BString)d["sdp"]!).Text);
    }

    [Fact]
    public void Canonical_encoding_sorts_keys_by_their_bytes()
    {
        var d = BDictionary.Of(("result", "ok"), ("error-reason", "x"), ("Z", 1), ("sdp", "v=0"));
        Assert.Equal("d1:Zi1e12:error-reason1:x6:result2:ok3:sdp3:v=0e", Encode(d));
        Assert.Equal("d6:result2:ok12:error-reason1:x1:Zi1e3:sdp3:v=0e", Encode(d, canonical: false));
    }

    [Fact]
    public void Canonical_encoding_sorts_a_dictionary_of_many_keys()
    {
        // more keys than the encoder keeps its order for on the stack: the same order from the heap
        var keys = Enumerable.Range(0, 100).Select(i => $"k{(i * 37) % 100:D3}").ToArray();
        var d = new BDictionary(keys.Select(k => KeyValuePair.Create(k, (BValue)k)));
        var expected = "d" + string.Concat(keys.Order(StringComparer.Ordinal).Select(k => $"4:{k}4:{k}")) + "e";
        Assert.Equal(expected, Encode(d));
    }

    [Fact]
    public void Each_encoding_is_a_copy_of_its_own()
    {
        // the encoder writes into a buffer of its thread and copies out: an earlier result is never overwritten
        var first = Bencode.Encode(BDictionary.Of(("result", "ok")));
        var second = Bencode.Encode(BDictionary.Of(("result", "error"), ("error-reason", "no such call")));
        Assert.Equal("d6:result2:oke", Encoding.Latin1.GetString(first));
        Assert.Equal("d12:error-reason12:no such call6:result5:errore", Encoding.Latin1.GetString(second));
    }

    [Fact]
    public void Canonical_encoding_refuses_duplicate_keys_wherever_they_are()
    {
        var d = new BDictionary([KeyValuePair.Create("b", (BValue)1), KeyValuePair.Create("a", (BValue)1), KeyValuePair.Create("b", (BValue)2)]);
        Assert.Throws<ArgumentException>(() => Bencode.Encode(d));
    }

    [Fact]
    public void Canonical_encoding_refuses_duplicate_keys()
    {
        var d = new BDictionary([KeyValuePair.Create("a", (BValue)1), KeyValuePair.Create("a", (BValue)2)]);
        Assert.Throws<ArgumentException>(() => Bencode.Encode(d));
        Assert.Equal("d1:ai1e1:ai2ee", Encode(d, canonical: false));
    }

    [Fact]
    public void Optional_pairs_with_a_null_value_are_left_out()
    {
        string? warning = null;
        var d = BDictionary.Of(("result", "ok"), ("warning", warning is null ? null : (BValue)warning));
        Assert.Equal("d6:result2:oke", Encode(d));
    }

    [Fact]
    public void Encodes_every_kind_and_decodes_it_back()
    {
        var value = BDictionary.Of( // in canonical order, so the decoded dictionary compares equal
            ("bytes", new BString([0, 255, 10, 13, 32])),
            ("empty", ""),
            ("list", new BList("a", 1L, -7L, new BList(), BDictionary.Of())),
            ("min", long.MinValue));
        var bytes = Bencode.Encode(value);
        Assert.Equal("d5:bytes5:\0\u00ff\n\r 5:empty0:4:listl1:ai1ei-7eledee3:mini-9223372036854775808ee", Encoding.Latin1.GetString(bytes));
        Assert.Equal(value, Bencode.Decode(bytes));
    }

    [Fact]
    public void Byte_strings_round_trip_every_byte_through_text()
    {
        var all = Enumerable.Range(0, 256).Select(b => (byte)b).ToArray();
        var s = new BString(all);
        Assert.Equal(256, s.Text.Length);
        Assert.Equal(s, new BString(s.Text));
        Assert.Equal(all, Assert.IsType<BString>(Bencode.Decode(Bencode.Encode(s))).Span.ToArray());
    }

    [Fact]
    public void Mutated_input_only_ever_fails_with_a_bencode_exception()
    {
        var seed = Bencode.Encode(BDictionary.Of(
            ("command", "offer"), ("call-id", "abc@host-1"), ("flags", new BList("trust-address", "symmetric")),
            ("replace", new BList("origin")), ("sdp", "v=0\r\no=- 1 1 IN IP4 x"), ("TOS", 184), ("tags", new BList(BDictionary.Of(("a", -1))))));
        var random = new Random(20240531);
        var alphabet = "0123456789:ilde-x"u8.ToArray();
        for (var round = 0; round < 20_000; round++)
        {
            var bytes = (byte[])seed.Clone();
            var length = bytes.Length;
            for (var k = random.Next(1, 4); k > 0; k--)
            {
                var at = random.Next(length);
                switch (random.Next(3))
                {
                    case 0: bytes[at] = alphabet[random.Next(alphabet.Length)]; break;
                    case 1: bytes[at] = (byte)random.Next(256); break;
                    default: length = at; break; // truncate
                }
            }
            try
            {
                Bencode.Decode(bytes.AsSpan(0, length));
            }
            catch (BencodeException)
            {
            }
        }
    }
}
