# A small HTTP service on 127.0.0.1:$PORT: GET /?name=... says hello,
# GET /healthz says ok. The gems come from Gemfile.lock, through bundler.
require "bundler/setup"
require "cgi"
require "webrick"

# The server, not yet started; `port` 0 picks a free one.
def hello_server(port:, greeting: ENV.fetch("GREETING", "Hello"))
  server = WEBrick::HTTPServer.new(
    BindAddress: "127.0.0.1",
    Port: port,
    Logger: WEBrick::Log.new($stderr, WEBrick::Log::WARN),
    AccessLog: [],
  )
  server.mount_proc("/healthz") do |_req, res|
    res.content_type = "text/plain"
    res.body = "ok\n"
  end
  server.mount_proc("/") do |req, res|
    unless req.path == "/"
      res.status = 404
      res.content_type = "text/plain"
      res.body = "not found\n"
      next
    end
    name = CGI.escapeHTML(req.query.fetch("name", "world").to_s)
    res.content_type = "text/html; charset=utf-8"
    res.body = "<h1>#{CGI.escapeHTML(greeting)}, #{name}!</h1>\n"
  end
  server
end

if $PROGRAM_NAME == __FILE__
  port = Integer(ENV.fetch("PORT") { abort "server.rb: set PORT to the port to listen on" })
  server = hello_server(port: port)
  %w[TERM INT].each { |signal| trap(signal) { server.shutdown } }
  $stderr.puts "ruby-hello: listening on 127.0.0.1:#{port}"
  server.start
end
