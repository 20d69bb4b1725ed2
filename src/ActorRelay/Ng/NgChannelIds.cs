using System.Security.Cryptography;
using System.Text;

namespace ActorRelay.Ng;

/// <summary>
/// Channel ids of NG calls: readable in the node's logs and listings, unique per stream, within the node's limit of
/// 128 characters. <c>{call-id}/{offerer's tag}/{media index, 1-based}</c>, with <c>/rtcp</c> for the stream's RTCP
/// channel and <c>~{n}</c> when an earlier call of the same ids still holds the name (a call deleted and offered
/// again while its channels are closing). A call-id and tag too long for that keep their first characters and add
/// a hash of both (<c>#</c> and 16 hex digits), so two calls never share an id by truncation.
/// </summary>
public static class NgChannelIds
{
    public const int MaxLength = 128;
    private const int KeptPrefix = 60;

    public static string For(string callId, string tag, int mediaIndex, bool rtcp, int generation = 0)
    {
        var suffix = $"/{mediaIndex + 1}{(rtcp ? "/rtcp" : "")}{(generation > 0 ? $"~{generation + 1}" : "")}";
        var call = $"{callId}/{tag}";
        if (call.Length + suffix.Length > MaxLength)
        {
            var hash = SHA256.HashData(Encoding.Latin1.GetBytes(callId + "\0" + tag));
            call = $"{callId[..Math.Min(callId.Length, KeptPrefix)]}#{Convert.ToHexString(hash, 0, 8).ToLowerInvariant()}";
        }
        return call + suffix;
    }
}
