using System.Buffers;

namespace ActorRelay.Ng;

// An NG datagram is "<cookie> <bencoded dictionary>": the cookie (any bytes up to the first space) matches a
// reply to its request and detects retransmissions; the reply is "<cookie> <bencoded reply dictionary>".

/// <summary>What one received datagram is.</summary>
public abstract record NgFrame;

/// <summary>A request: its cookie and its dictionary (still untyped, see <see cref="NgRequest"/>).</summary>
public sealed record NgRequestFrame(string Cookie, BDictionary Body) : NgFrame;

/// <summary>
/// A cookie with a body that is not a bencoded dictionary: answer with <see cref="NgReplies.Error"/>
/// (<paramref name="ErrorReason"/>, worded as rtpengine words it); <paramref name="Detail"/> is for the log.
/// </summary>
public sealed record NgMalformedFrame(string Cookie, string ErrorReason, string Detail) : NgFrame;

/// <summary>No usable cookie: nothing can be answered. Log <paramref name="Reason"/> and drop the datagram.</summary>
public sealed record NgUnanswerableFrame(string Reason) : NgFrame;

public static class NgFraming
{
    /// <summary>Longest cookie accepted (Kamailio's are at most 34 bytes, OpenSIPS's 33, rtpengine's own 16).</summary>
    public const int MaxCookieLength = 128;

    public static NgFrame Read(ReadOnlySpan<byte> datagram, BencodeLimits? limits = null)
    {
        var space = datagram.IndexOf((byte)' ');
        if (space < 0) return new NgUnanswerableFrame("no cookie (no space in the datagram)");
        if (space == 0) return new NgUnanswerableFrame("empty cookie");
        if (space > MaxCookieLength) return new NgUnanswerableFrame($"cookie longer than {MaxCookieLength} bytes");
        var cookie = BValue.Latin1.GetString(datagram[..space]);
        var body = datagram[(space + 1)..];
        if (body.IsEmpty) return new NgMalformedFrame(cookie, NgErrors.NoPayload, "empty body");
        switch (body[0])
        {
            case (byte)'d':
                try
                {
                    return new NgRequestFrame(cookie, Bencode.DecodeDictionary(body, limits));
                }
                catch (BencodeException e)
                {
                    return new NgMalformedFrame(cookie, NgErrors.BadBencode, e.Message);
                }
            case (byte)'{':
                return new NgMalformedFrame(cookie, NgErrors.JsonNotSupported, "JSON body");
            default:
                return new NgMalformedFrame(cookie, NgErrors.InvalidFormat, $"body starts with byte 0x{body[0]:x2}");
        }
    }

    /// <summary>"<paramref name="cookie"/> <paramref name="reply"/>", the reply canonically encoded.</summary>
    public static byte[] Frame(string cookie, BDictionary reply)
    {
        // encoded in the thread's scratch buffer, then copied out once (the reply cache keeps the copy)
        var buffer = Bencode.Scratch();
        var span = buffer.GetSpan(cookie.Length + 1);
        var written = BValue.Latin1.GetBytes(cookie, span);
        span[written] = (byte)' ';
        buffer.Advance(written + 1);
        Bencode.Encode(reply, buffer);
        return buffer.WrittenSpan.ToArray();
    }
}
