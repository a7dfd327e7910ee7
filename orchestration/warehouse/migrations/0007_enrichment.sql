-- enrich: lookups computed once per distinct key by the enrichment assets
-- (orchestration/enrichment, orchestration/defs/enrichment), read by dbt
-- (models/staging/enrich) to give every open and click a device type, client and geolocation.
--
-- Each table is keyed by the distinct value it describes, so a user agent or an IP address is
-- parsed / looked up once however many events carry it. A row is redone only when what produced it
-- changed: a new parser rules release (parser_version) or a different GeoIP database build
-- (geoip_build).

create schema if not exists enrich;

create table if not exists enrich.user_agents (
    user_agent_md5 text primary key,      -- md5(user_agent): the key dbt joins on (any length)
    user_agent text not null,             -- as staged: trimmed, never empty
    device_type text not null check (device_type in ('phone', 'computer', 'other')),
    os text,                              -- operating system family (iOS, Windows, ...), null if unknown
    client text,                          -- browser / mail client family, null if unknown
    device text,                          -- device family (iPhone, Mac, Spider, ...), null if unknown
    is_bot boolean not null,              -- crawler, link scanner, HTTP library
    parser_version text not null,         -- ua-parser rules release that parsed it
    parsed_at timestamptz not null default now()
);

create table if not exists enrich.ip_addresses (
    ip_address text primary key,          -- as staged and normalised (::ffff: IPv4 stripped)
    ip inet,                              -- null when the text is not an IP address
    geo_country text,                     -- from the GeoIP database (English names)
    geo_region text,
    geo_city text,
    latitude double precision,
    longitude double precision,
    geoip_build text,                     -- database type and build epoch; null: not looked up
    looked_up_at timestamptz not null default now()
);
