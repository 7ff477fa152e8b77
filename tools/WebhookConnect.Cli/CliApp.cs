using System.Collections;
using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using WebhookConnect.Contracts.Admin.V1;

namespace WebhookConnect.Cli;

/// <summary>
/// The <c>webhookconnect</c> command line (docs/cli.md): <c>tail</c>, <c>resend</c>, <c>messages</c> and <c>get</c>,
/// each one admin API call over gRPC. Every command prints human lines, or NDJSON with <c>--json</c> (one protobuf
/// JSON object per line, proto field names); errors go to stderr with the exit codes of <see cref="ExitCodes"/>.
/// </summary>
public static class CliApp
{
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, IDictionary environment)
    {
        // Ctrl-C (SIGINT) and SIGTERM cancel this token, and the running call ends with it (a tail then exits 0).
        // Our own handlers rather than System.CommandLine's (turned off below): in clean-clone runs a tail sometimes
        // kept running after SIGINT, or ended with another status, with the library's handling.
        using var stop = new CancellationTokenSource();
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            // Not on the signal thread: cancelling runs the call's cancellation callbacks synchronously.
            ThreadPool.QueueUserWorkItem(static source => Cancel(source), stop, preferLocal: false);
        }

        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        var cancel = stop.Token;
        var admin = new Option<string>("--admin")
        {
            Description = $"admin gRPC address (also env {AdminConnection.AddressVariable}). [default: {AdminConnection.DefaultAddress}]",
            HelpName = "url",
            Recursive = true,
        };
        var tokenFile = new Option<string>("--token-file")
        {
            Description = $"file holding the admin token (else env {AdminConnection.TokenVariable}; there is no --token: a command line is visible to every user of the machine).",
            HelpName = "path",
            Recursive = true,
        };
        var json = new Option<bool>("--json") { Description = "print NDJSON: one protobuf JSON object per line (proto field names).", Recursive = true };

        var root = new RootCommand(
            "webhookconnect: see what arrives on a Webhook Connect channel, and send it again.\n" +
            "Talks to the admin API over gRPC. Exit codes: 0 done (tail: stopped with Ctrl-C), 1 the call failed (not found, refused),\n" +
            "2 bad command line or no token, 3 admin unreachable, 4 token refused or not allowed.");
        root.Options.Add(admin);
        root.Options.Add(tokenFile);
        root.Options.Add(json);

        // tail
        var tailChannel = new Argument<string>("channel") { Description = "the channel to watch." };
        var tailBody = new Option<bool>("--include-body") { Description = "include bodies and headers in --json output (needs a token that may read contents)." };
        var tail = new Command("tail", "print every message the channel accepts and every delivery outcome, one line each, until Ctrl-C.") { tailChannel, tailBody };
        tail.SetAction((parse, _) => WithConnection(parse, cancel, admin, tokenFile, environment, error, connection =>
            TailAsync(connection, new TailChannelRequest { Channel = parse.GetValue(tailChannel)!, IncludeBody = parse.GetValue(tailBody) }, parse.GetValue(json), output, error, cancel)));
        root.Subcommands.Add(tail);

        // resend
        var resendChannel = new Argument<string>("channel") { Description = "the message's channel." };
        var resendId = new Argument<string>("message-id") { Description = "the message to deliver again (from tail or messages)." };
        var resend = new Command("resend", "queue a message from the history for delivery again (same message id, a new attempt series).") { resendChannel, resendId };
        resend.SetAction((parse, _) => WithConnection(parse, cancel, admin, tokenFile, environment, error, async connection =>
        {
            var request = new ResendMessageRequest { Channel = parse.GetValue(resendChannel)!, MessageId = parse.GetValue(resendId)! };
            var response = await connection.Client.ResendMessageAsync(request, connection.Headers, cancellationToken: cancel);
            await output.WriteLineAsync(parse.GetValue(json)
                ? EventLines.Json(response)
                : $"resent {response.MessageId} on channel {request.Channel} (resend {response.Resend.ToString(CultureInfo.InvariantCulture)})");
            return ExitCodes.Ok;
        }));
        root.Subcommands.Add(resend);

        // messages
        var listChannel = new Argument<string>("channel") { Description = "the channel whose history to list." };
        var states = new Option<string[]>("--state") { Description = "only these states (repeatable or comma-separated): waiting, in_flight, acked, dead_lettered, expired, purged.", AllowMultipleArgumentsPerToken = false };
        var endpoint = new Option<string>("--endpoint") { Description = "only messages posted to this endpoint: id or namespace/id." };
        var since = new Option<string>("--since") { Description = "only messages received at or after: an RFC 3339 time (2026-12-05T04:00:00Z) or an age (30s, 15m, 2h, 1d).", HelpName = "time" };
        var until = new Option<string>("--until") { Description = "only messages received before: an RFC 3339 time or an age.", HelpName = "time" };
        var key = new Option<string>("--idempotency-key") { Description = "only the message with this idempotency key." };
        var header = new Option<string>("--header") { Description = "only messages with this header value, Name:value (e.g. X-GitHub-Delivery:72d3162e; needs a token that may read contents).", HelpName = "Name:value" };
        var limit = new Option<int>("--limit") { Description = "most messages to print, newest first. [default: 50]", DefaultValueFactory = _ => 50 };
        var listBody = new Option<bool>("--include-body") { Description = "include bodies and headers in --json output (needs a token that may read contents)." };
        var messages = new Command("messages", "list the channel's history, newest first, with filters.") { listChannel, states, endpoint, since, until, key, header, limit, listBody };
        messages.SetAction((parse, _) => WithConnection(parse, cancel, admin, tokenFile, environment, error, connection =>
        {
            var request = new ListMessagesRequest
            {
                Channel = parse.GetValue(listChannel)!,
                Endpoint = parse.GetValue(endpoint) ?? "",
                IdempotencyKey = parse.GetValue(key) ?? "",
                IncludeBody = parse.GetValue(listBody),
                ReceivedAfter = Time("--since", parse.GetValue(since)),
                ReceivedBefore = Time("--until", parse.GetValue(until)),
            };
            request.States.Add((parse.GetValue(states) ?? []).SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Select(EventLines.ParseState));
            if (parse.GetValue(header) is { Length: > 0 } filter)
            {
                var colon = filter.IndexOf(':', StringComparison.Ordinal);
                if (colon <= 0 || colon == filter.Length - 1)
                {
                    throw new UsageException($"--header = '{filter}' is not Name:value (e.g. X-GitHub-Delivery:72d3162e)");
                }

                (request.HeaderName, request.HeaderValue) = (filter[..colon].Trim(), filter[(colon + 1)..].Trim());
            }

            var most = parse.GetValue(limit);
            if (most is < 1 or > 10_000)
            {
                throw new UsageException($"--limit = {most.ToString(CultureInfo.InvariantCulture)} must be between 1 and 10000");
            }

            return ListAsync(connection, request, most, parse.GetValue(json), output, cancel);
        }));
        root.Subcommands.Add(messages);

        // get
        var getChannel = new Argument<string>("channel") { Description = "the message's channel." };
        var getId = new Argument<string>("message-id") { Description = "the message to show." };
        var get = new Command("get", "show one message from the history with its delivery record (bodies and headers for a token that may read contents).") { getChannel, getId };
        get.SetAction((parse, _) => WithConnection(parse, cancel, admin, tokenFile, environment, error, async connection =>
        {
            var response = await connection.Client.GetMessageAsync(
                new GetMessageRequest { Channel = parse.GetValue(getChannel)!, MessageId = parse.GetValue(getId)! }, connection.Headers, cancellationToken: cancel);
            await output.WriteLineAsync(parse.GetValue(json) ? EventLines.Json(response.Record) : EventLines.Detail(response.Record));
            return ExitCodes.Ok;
        }));
        root.Subcommands.Add(get);

        var result = root.Parse(args);
        if (result.Errors.Count > 0)
        {
            foreach (var parseError in result.Errors)
            {
                await error.WriteLineAsync($"webhookconnect: {parseError.Message}");
            }

            await error.WriteLineAsync("Run 'webhookconnect --help' (or 'webhookconnect <command> --help') for usage.");
            return ExitCodes.Usage;
        }

        return await result.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, ProcessTerminationTimeout = null }, cancel);
    }

    private static void Cancel(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The signal came as the command was ending: nothing is left to cancel.
        }
    }

    private static async Task<int> WithConnection(
        ParseResult parse, CancellationToken cancel, Option<string> admin, Option<string> tokenFile, IDictionary environment, TextWriter error, Func<AdminConnection, Task<int>> run)
    {
        AdminConnection connection;
        try
        {
            connection = AdminConnection.Open(parse.GetValue(admin), parse.GetValue(tokenFile), environment);
        }
        catch (UsageException ex)
        {
            await error.WriteLineAsync("webhookconnect: " + ex.Message);
            return ExitCodes.Usage;
        }

        using (connection)
        {
            try
            {
                return await run(connection);
            }
            catch (UsageException ex)
            {
                await error.WriteLineAsync("webhookconnect: " + ex.Message);
                return ExitCodes.Usage;
            }
            // Once Ctrl-C was pressed, whatever status the call ends with is that Ctrl-C: the client may see the
            // cancelled HTTP/2 stream as another status (a reset read as UNAVAILABLE) before it sees CANCELLED.
            catch (RpcException ex) when (ex.StatusCode != StatusCode.Cancelled && !cancel.IsCancellationRequested)
            {
                var (message, code) = connection.Explain(ex);
                await error.WriteLineAsync("webhookconnect: " + message);
                return code;
            }
            catch (Exception ex) when (ex is OperationCanceledException or RpcException)
            {
                // Ctrl-C: the call was cancelled on purpose.
                return ExitCodes.Ok;
            }
        }
    }

    private static async Task<int> TailAsync(AdminConnection connection, TailChannelRequest request, bool json, TextWriter output, TextWriter error, CancellationToken cancel)
    {
        using var call = connection.Client.TailChannel(request, connection.Headers, cancellationToken: cancel);
        await foreach (var e in call.ResponseStream.ReadAllAsync(cancel))
        {
            if (json)
            {
                await output.WriteLineAsync(EventLines.Json(e));
            }
            else if (EventLines.Tail(e) is { } line)
            {
                await output.WriteLineAsync(line);
            }
            else
            {
                await error.WriteLineAsync($"Tailing channel {request.Channel} at {connection.Address} (Ctrl-C to stop)");
            }

            await output.FlushAsync(cancel);
        }

        return ExitCodes.Ok;
    }

    private static async Task<int> ListAsync(AdminConnection connection, ListMessagesRequest request, int most, bool json, TextWriter output, CancellationToken cancel)
    {
        var printed = 0;
        do
        {
            request.PageSize = (uint)Math.Min(500, most - printed);
            var page = await connection.Client.ListMessagesAsync(request, connection.Headers, cancellationToken: cancel);
            foreach (var record in page.Messages.Take(most - printed))
            {
                await output.WriteLineAsync(json ? EventLines.Json(record) : EventLines.Record(record));
                printed++;
            }

            request.PageToken = page.NextPageToken;
        }
        while (request.PageToken.Length > 0 && printed < most);

        return ExitCodes.Ok;
    }

    /// <summary>An RFC 3339 time or an age before now (<c>30s</c>, <c>15m</c>, <c>2h</c>, <c>1d</c>); null when not given.</summary>
    internal static Timestamp? Time(string option, string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        text = text.Trim();
        if (text.Length >= 2 && int.TryParse(text[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var amount))
        {
            TimeSpan? age = text[^1] switch
            {
                's' => TimeSpan.FromSeconds(amount),
                'm' => TimeSpan.FromMinutes(amount),
                'h' => TimeSpan.FromHours(amount),
                'd' => TimeSpan.FromDays(amount),
                _ => null,
            };
            if (age is { } ago)
            {
                return Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow - ago);
            }
        }

        try
        {
            // Protobuf's JSON form of Timestamp is RFC 3339, as the admin API's JSON twin takes it.
            return Google.Protobuf.JsonParser.Default.Parse<Timestamp>(System.Text.Json.JsonSerializer.Serialize(text));
        }
        catch (Google.Protobuf.InvalidProtocolBufferException)
        {
            throw new UsageException($"{option} = '{text}' is neither an RFC 3339 time (2026-12-05T04:00:00Z) nor an age (30s, 15m, 2h, 1d)");
        }
    }
}
