using System.Text;
using ActorRelay.Ng;
using Xunit;

namespace ActorRelay.Tests.Ng;

public sealed class NgFramingTests
{
    private static NgFrame Read(string datagram) => NgFraming.Read(Encoding.Latin1.GetBytes(datagram));

    [Fact]
    public void Reads_cookie_and_dictionary()
    {
        var frame = Assert.IsType<NgRequestFrame>(Read("5323_1 d7:command4:pinge"));
        Assert.Equal("5323_1", frame.Cookie);
        Assert.Equal("ping", ((BString)frame.Body["command"]!).Text);
    }

    [Fact]
    public void Kamailio_style_cookie_is_read_up_to_the_first_space()
    {
        var frame = Assert.IsType<NgRequestFrame>(Read("0_2846512_17 d7:command5:query7:call-id3:a ce"));
        Assert.Equal("0_2846512_17", frame.Cookie);
        Assert.Equal("a c", ((BString)frame.Body["call-id"]!).Text);
    }

    [Theory]
    [InlineData("d7:command4:pinge")]
    [InlineData(" d7:command4:pinge")]
    [InlineData("")]
    public void Without_a_cookie_nothing_can_be_answered(string datagram) =>
        Assert.IsType<NgUnanswerableFrame>(Read(datagram));

    [Fact]
    public void An_overlong_cookie_is_not_answered()
    {
        Assert.IsType<NgRequestFrame>(Read(new string('c', 128) + " de"));
        Assert.Equal("cookie longer than 128 bytes", Assert.IsType<NgUnanswerableFrame>(Read(new string('c', 129) + " de")).Reason);
    }

    [Theory]
    [InlineData("c1 ", NgErrors.NoPayload)]
    [InlineData("c1 {\"command\":\"ping\"}", NgErrors.JsonNotSupported)]
    [InlineData("c1 li1ee", NgErrors.InvalidFormat)]
    [InlineData("c1 ping", NgErrors.InvalidFormat)]
    [InlineData("c1 d7:command4:ping", NgErrors.BadBencode)]
    [InlineData("c1 d7:command4:pinge\n", NgErrors.BadBencode)]
    [InlineData("c1 d7:commandi01ee", NgErrors.BadBencode)]
    public void A_cookie_with_a_bad_body_is_answerable_with_an_error(string datagram, string reason)
    {
        var frame = Assert.IsType<NgMalformedFrame>(Read(datagram));
        Assert.Equal(("c1", reason), (frame.Cookie, frame.ErrorReason));
        Assert.NotEmpty(frame.Detail);
    }

    [Fact]
    public void The_bencode_detail_says_where_the_body_is_broken()
    {
        var frame = Assert.IsType<NgMalformedFrame>(Read("c1 d7:command4:ping"));
        Assert.Equal("unexpected end of input at offset 16", frame.Detail);
    }

    [Fact]
    public void Frames_a_reply_with_the_request_cookie()
    {
        Assert.Equal("5323_1 d6:result4:ponge", Encoding.Latin1.GetString(NgFraming.Frame("5323_1", NgReplies.Pong())));
        var cookie = "c\u00e9\u00ff";
        var framed = NgFraming.Frame(cookie, NgReplies.Error(NgErrors.UnrecognizedCommand));
        Assert.Equal(cookie, Assert.IsType<NgMalformedFrame>(NgFraming.Read([.. framed.Take(4), .. "{"u8])).Cookie);
        Assert.Equal("c\u00e9\u00ff d12:error-reason20:Unrecognized command6:result5:errore", Encoding.Latin1.GetString(framed));
    }

    [Fact]
    public void Body_size_is_limited_by_the_bencode_limits()
    {
        var datagram = Encoding.Latin1.GetBytes("c1 d3:sdp100:" + new string('x', 100) + "e");
        Assert.IsType<NgRequestFrame>(NgFraming.Read(datagram));
        var frame = Assert.IsType<NgMalformedFrame>(NgFraming.Read(datagram, new BencodeLimits(MaxInputLength: 100)));
        Assert.Equal(NgErrors.BadBencode, frame.ErrorReason);
    }
}
