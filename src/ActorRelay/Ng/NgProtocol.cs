using System.Net;
using Akka.Actor;
using ActorRelay.Protocol;

namespace ActorRelay.Ng;

// Messages between the NG endpoint's actors, inside the node's process only (never over Akka.Remote).

/// <summary>
/// An NG command for the call book (ping and unknown commands are answered by the endpoint itself). Reply: <see cref="NgCommandReply"/> to the sender.
/// <paramref name="Body"/> is the request dictionary as received: what goes to another relay node when the call lives there.
/// </summary>
public sealed record NgCommandRequest(NgRequest Request, long Token, BDictionary? Body = null);

/// <summary>The reply dictionary for the request with <paramref name="Token"/>.</summary>
public sealed record NgCommandReply(long Token, BDictionary Reply);

/// <summary>How a call ended, for the statistics command's totals.</summary>
public enum NgCallEnd
{
    /// <summary>Its first offer was refused (no channel could be opened, a malformed SDP): never a call.</summary>
    Rejected,
    /// <summary>The SIP proxy deleted it.</summary>
    Deleted,
    /// <summary>Its media channels timed out (idle, setup or lifetime).</summary>
    TimedOut,
    /// <summary>Its media channels closed for another reason (node stopping, a failed side).</summary>
    Forced,
}

/// <summary>What a finished call adds to the statistics: its relayed packets, bytes and drops, and its RTP streams by direction.</summary>
public sealed record NgCallSummary(
    NgCallEnd End, TimeSpan Duration, long Packets, long Bytes, long Errors, int ZeroWayStreams, int OneWayStreams)
{
    public static NgCallSummary Of(NgCallEnd end, TimeSpan duration, IEnumerable<ChannelSnapshot> finals, IReadOnlySet<string> rtpChannels)
    {
        long packets = 0, bytes = 0, errors = 0;
        int zero = 0, one = 0;
        foreach (var f in finals)
        {
            packets += f.Left.PacketsForwarded + f.Right.PacketsForwarded;
            bytes += f.Left.BytesForwarded + f.Right.BytesForwarded;
            errors += f.Left.PacketsDropped + f.Right.PacketsDropped;
            if (!rtpChannels.Contains(f.ChannelId)) continue;
            var ways = (f.Left.PacketsReceived > 0 ? 1 : 0) + (f.Right.PacketsReceived > 0 ? 1 : 0);
            if (ways == 0) zero++;
            else if (ways == 1) one++;
        }
        return new NgCallSummary(end, duration, packets, bytes, errors, zero, one);
    }
}

/// <summary>A call's actor to the book: the call is over; the book forgets it and answers with <see cref="NgRetire"/>.</summary>
internal sealed record NgCallEnded(string CallId, NgCallSummary Summary);

/// <summary>The book to a call's actor that ended: stop (every request the book sent it before is answered by then).</summary>
internal sealed record NgRetire
{
    public static readonly NgRetire Instance = new();
}

/// <summary>A call's actor that ended got a request: the book routes it afresh (a new offer makes a new call).</summary>
internal sealed record NgCallGone(NgCommandRequest Command, IActorRef ReplyTo);

/// <summary>
/// A call's actor to the book, before it asks the node to open a channel of this name: the book (every NG channel's
/// subscriber) forwards that channel's <see cref="Protocol.ChannelClosed"/> to the call. Sent before the OpenChannel,
/// so it is in the book's mailbox before any event of the channel can be.
/// </summary>
internal sealed record NgWatchChannel(string CallId, string ChannelId);

/// <summary>
/// The book's lookup of a call it does not know, to the book: no other relay node holds the call (or none said so in
/// time); the book acts on the command itself (a first offer makes the call here).
/// </summary>
internal sealed record NgNotElsewhere(NgCommandRequest Command, IActorRef ReplyTo);

/// <summary>Another relay node's request (<see cref="Protocol.ForwardNgCommand"/>) read: the book acts on it here, and the reply goes to the asker.</summary>
internal sealed record NgActHere(NgCommandRequest Command);

/// <summary>One datagram the endpoint's receive loop read.</summary>
internal sealed record NgDatagram(byte[] Bytes, IPEndPoint Source);

/// <summary>The endpoint's receive loop stopped on an error other than its socket being closed.</summary>
internal sealed record NgReceiveFailed(Exception Error);
