# Usage: LC_ALL=C awk -v wanted=" NAME... " -f execpack-derive.awk NAME...
# The variables derived from the connection URLs named (each a *_URL or *_URI config var, read from ENVIRON),
# as src/environment/connection-url.ts derives them, for the profile step's shell path
# (launchers/execpack-profile-step). One awk process splits every URL: bash took 0.6 ms a URL, awk a few µs.
# Prints each NAME and VALUE on a line of its own; then again those of the names in `wanted` (the ones binary.env
# reads or sets, which the shell looks up); then three counts: the pairs, the derived *_URL names among them,
# the wanted pairs. Or exits 1 without those counts, for any URL it cannot split exactly as connection-url.ts
# does (an IPv6, non-ASCII or placeholder host, a `%` escape it cannot decode or that decodes to a control
# character, quotes, spaces, `#`...): the Node.js step then takes the whole start, with its warnings.
# Portable awk (mawk, gawk, busybox): no interval expressions, no gawk extensions.

function hexdigit(c) {
	return index("0123456789abcdef", tolower(c)) - 1
}

# decodeURIComponent, for escapes of printable ASCII; sets failed for anything else.
function decode(text,    out, at, code) {
	out = ""
	while ((at = index(text, "%")) > 0) {
		if (substr(text, at + 1, 2) !~ /^[0-7][0-9A-Fa-f]$/) {
			failed = 1
			return ""
		}
		code = hexdigit(substr(text, at + 1, 1)) * 16 + hexdigit(substr(text, at + 2, 1))
		if (code < 32 || code == 127) {
			failed = 1
			return ""
		}
		out = out substr(text, 1, at - 1) sprintf("%c", code)
		text = substr(text, at + 3)
	}
	return out text
}

# encodeURIComponent of printable ASCII.
function encode(text,    out, i, c) {
	if (text !~ /[^A-Za-z0-9_.!~*'()-]/) return text
	out = ""
	for (i = 1; i <= length(text); i++) {
		c = substr(text, i, 1)
		out = out (c ~ /[A-Za-z0-9_.!~*'()-]/ ? c : sprintf("%%%02X", ORD[c]))
	}
	return out
}

function put(name, value) {
	if (name in ENVIRON) return # a name that is set is never derived
	pairs++
	if (name ~ /_URL$/) urls++
	print name
	print value
	if (index(wanted, " " name " ") > 0) {
		found++
		lookups = lookups name "\n" value "\n"
	}
}

# Returns 1 when it derived, 0 for anything the Node.js step must see.
function derive(value, base,    scheme, rest, family, port, multi, tls, at, authority, path, query, userinfo, list, \
		count, items, i, host, hostport, hosts, ports, addresses, keys, nkeys, pair, key, eq, params, user, password, \
		haspass, raw, database, flag, mode, credentials, jdbc, subprotocol) {
	if (value ~ /[^!-~]/ || value ~ /["'#\\`]/) return 0
	at = index(value, ":")
	scheme = tolower(substr(value, 1, at - 1))
	rest = substr(value, at + 1)
	if (at == 0 || substr(rest, 1, 2) != "//") return 0
	rest = substr(rest, 3)
	multi = 0
	tls = 0
	if (scheme == "postgres" || scheme == "postgresql") { family = "postgres"; port = 5432; multi = 1 }
	else if (scheme == "mysql" || scheme == "mysql2" || scheme == "mariadb") { family = "mysql"; port = 3306 }
	else if (scheme == "redis") { family = "redis"; port = 6379 }
	else if (scheme == "rediss") { family = "redis"; port = 6379; tls = 1 }
	else if (scheme == "amqp") { family = "amqp"; port = 5672 }
	else if (scheme == "amqps") { family = "amqp"; port = 5671; tls = 1 }
	else if (scheme == "mongodb") { family = "mongodb"; port = 27017; multi = 1 }
	else if (scheme == "mongodb+srv") { family = "mongodb"; port = ""; tls = 1 }
	else return 0
	authority = rest
	path = ""
	if (match(rest, /[\/?]/)) {
		authority = substr(rest, 1, RSTART - 1)
		path = substr(rest, RSTART)
	}
	query = ""
	if ((at = index(path, "?")) > 0) {
		query = substr(path, at + 1)
		path = substr(path, 1, at - 1)
	}
	# The user info runs to the last `@`; an `@` after the authority is a password with an unencoded `/` or `?`.
	userinfo = ""
	list = authority
	if (match(authority, /@[^@]*$/)) {
		userinfo = substr(authority, 1, RSTART - 1)
		list = substr(authority, RSTART + 1)
	}
	if (index(path, "@") > 0 || (authority !~ /@/ && index(query, "@") > 0) || list == "") return 0
	# The query: a repeated key keeps its first place and its last value. Keys a JavaScript object keeps in
	# insertion order (not all digits) and that a URL needs no escape for.
	nkeys = 0
	count = split(query, items, "&")
	for (i = 1; i <= count; i++) {
		pair = items[i]
		if (pair == "") continue
		eq = index(pair, "=")
		key = decode(eq ? substr(pair, 1, eq - 1) : pair)
		if (failed || key !~ /^[A-Za-z0-9_.-]+$/ || key ~ /^[0-9]+$/) return 0
		if (!(key in params)) keys[++nkeys] = key
		params[key] = eq ? decode(substr(pair, eq + 1)) : ""
		if (failed) return 0
	}
	if (family == "postgres" && ("host" in params)) return 0
	# Hosts: plain ASCII names (no IPv6, no Unix socket), each with a port from 1 to 65535 or the default.
	count = split(list, items, ",")
	if (count > 1 && !multi) return 0
	addresses = ""
	for (i = 1; i <= count; i++) {
		hostport = items[i]
		host = hostport
		ports[i] = port
		if ((at = index(hostport, ":")) > 0) {
			host = substr(hostport, 1, at - 1)
			rest = substr(hostport, at + 1)
			if (rest !~ /^[0-9]*$/) return 0
			if (rest != "") {
				if (port == "") return 0
				sub(/^0+/, "", rest) # 0080 is 80, as Number() reads it
				if (rest == "" || length(rest) > 5 || rest + 0 > 65535) return 0
				ports[i] = rest + 0
			}
		}
		if (host !~ /^[A-Za-z0-9_.-]+$/) return 0
		hosts[i] = host
		addresses = addresses (i > 1 ? "," : "") host (ports[i] == "" ? "" : ":" ports[i])
	}
	host = tolower(hosts[1])
	if (host ~ /^(placeholder|pending|provisioning|changeme|your[-_]?host(name)?)$/ || host ~ /(^|\.)(example(\.(com|net|org))?|invalid)$/) return 0
	user = ""
	password = ""
	haspass = 0
	if (authority ~ /@/) {
		at = index(userinfo, ":")
		user = decode(at ? substr(userinfo, 1, at - 1) : userinfo)
		if (at) {
			password = decode(substr(userinfo, at + 1))
			haspass = 1
		}
		if (failed) return 0
	}
	raw = substr(path, 1, 1) == "/" ? substr(path, 2) : path
	if (family == "redis") {
		database = raw == "" ? "0" : raw
		if (database !~ /^[0-9]+$/) return 0
	} else if (family == "amqp") {
		if (index(raw, "/") > 0) return 0
		database = decode(raw == "" ? "/" : raw)
	} else {
		database = decode(raw)
	}
	if (failed) return 0
	# TLS: tls= or ssl= first, then the scheme, then libpq's sslmode or MySQL's ssl-mode.
	flag = ("tls" in params) ? tolower(params["tls"]) : ("ssl" in params) ? tolower(params["ssl"]) : ""
	if (flag == "true") tls = 1
	else if (flag == "false" && family == "mongodb") tls = 0
	else if (!tls && family == "postgres") {
		mode = tolower(params["sslmode"])
		tls = mode == "require" || mode == "verify-ca" || mode == "verify-full"
	} else if (!tls && family == "mysql") {
		mode = tolower(("ssl-mode" in params) ? params["ssl-mode"] : params["sslMode"])
		tls = mode == "required" || mode == "verify_ca" || mode == "verify_identity"
	}
	put(base "_HOST", hosts[1])
	# Heroku Redis's old `h` user is a filler, not an ACL user.
	put(base "_USER", family == "redis" && user == "h" ? "" : user)
	put(base "_PASSWORD", password)
	put(base "_NAME", database)
	put(base "_ADDRESS", hosts[1] (ports[1] == "" ? "" : ":" ports[1]))
	put(base "_SCHEME", scheme)
	put(base "_HOSTS", addresses)
	put(base "_TLS", tls ? "true" : "false")
	if (ports[1] != "") put(base "_PORT", ports[1])
	if (family == "mysql") {
		credentials = user != "" || password != "" ? user (haspass ? ":" password : "") "@" : ""
		put(base "_DSN", credentials "tcp(" hosts[1] ":" ports[1] ")/" encode(database) (tls ? "?tls=true" : ""))
	}
	if (family == "mysql" || family == "postgres") {
		subprotocol = family == "postgres" ? "postgresql" : scheme == "mariadb" ? "mariadb" : "mysql"
		jdbc = ""
		for (i = 1; i <= nkeys; i++) {
			if (keys[i] == "host" || keys[i] == "port") continue
			jdbc = jdbc (jdbc == "" ? "?" : "&") keys[i] "=" encode(params[keys[i]])
		}
		put(base "_JDBC_URL", "jdbc:" subprotocol "://" addresses "/" encode(database) jdbc)
	}
	return 1
}

BEGIN {
	for (i = 32; i < 127; i++) ORD[sprintf("%c", i)] = i
	for (i = 1; i < ARGC; i++) {
		name = ARGV[i]
		if (!derive(ENVIRON[name], substr(name, 1, length(name) - 4))) exit 1
	}
	printf "%s%d\n%d\n%d\n", lookups, pairs + 0, urls + 0, found + 0
	exit 0
}
