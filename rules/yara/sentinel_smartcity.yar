/*
   Sentinel rules for content seen on smart-city networks: IoT bot droppers aimed at cameras, routers and
   gateways, and webshells uploaded to management portals. Written for Sentinel; Apache-2.0.
   Each rule names its ATT&CK technique in meta `mitre_attack`.
*/

rule SENTINEL_IoT_Mirai_Like_Bot_Strings
{
    meta:
        author = "Sentinel"
        description = "Mirai-family IoT bot: busybox applet probe together with the default-credential dictionary or watchdog handling"
        mitre_attack = "T1110.001"
        reference = "https://github.com/jgamblin/Mirai-Source-Code"
        date = "2026-11-25"
        score = 75
    strings:
        $probe1 = "/bin/busybox MIRAI"
        $probe2 = "MIRAI: applet not found"
        $probe3 = /\/bin\/busybox (ECCHI|SORA|OWARI|MASUTA|OKIRU|SATORI)\b/
        $cred1 = "xc3511"
        $cred2 = "vizxv"
        $cred3 = "7ujMko0admin"
        $cred4 = "Zte521"
        $cred5 = "hi3518"
        $cred6 = "jvbzd"
        $cred7 = "klv1234"
        $wd1 = "/dev/watchdog"
        $wd2 = "/dev/misc/watchdog"
    condition:
        filesize < 10MB and
        ( ( 1 of ($probe*) and ( 2 of ($cred*) or 1 of ($wd*) ) ) or 4 of ($cred*) )
}

rule SENTINEL_IoT_Dropper_Shell_Chain
{
    meta:
        author = "Sentinel"
        description = "IoT dropper command chain: change to a writable directory, fetch a per-architecture bot binary, make it executable"
        mitre_attack = "T1105"
        date = "2026-11-25"
        score = 70
    strings:
        $cd = /cd \/tmp *\|\| *cd \/var\/(run|tmp) *\|\| *cd \/mnt/
        $get = /(wget|curl|tftp|ftpget)[^;|&\n]{1,120}\b(mips|mpsl|arm[4-7]?|x86|m68k|ppc|sh4|spc|i686)\b/
        $chmod = /chmod +(777|\+x) +[^;|&\n]{1,60}/
    condition:
        filesize < 10MB and ( $cd or ( $get and $chmod ) )
}

rule SENTINEL_Webshell_Upload_Multipart
{
    meta:
        author = "Sentinel"
        description = "HTTP multipart upload of a server-side script that runs request parameters (webshell upload to a web portal)"
        mitre_attack = "T1505.003"
        date = "2026-11-25"
        score = 80
    strings:
        $part = /Content-Disposition: *form-data;[^\r\n]{0,200}filename="[^"\r\n]{1,200}\.(php[3-7]?|phtml|phar|jspx?|aspx?|ashx)"/ nocase
        $run_php = /(eval|assert|system|passthru|shell_exec|exec|popen)\s*\(\s*(base64_decode\s*\(\s*)?\$_(POST|GET|REQUEST|COOKIE)/ nocase
        $run_jsp = /Runtime\.getRuntime\(\)\.exec\(\s*request\.getParameter/
        $run_asp = /eval\s*\(?\s*Request(\.Item)?\s*[\[(]/ nocase
    condition:
        $part and 1 of ($run*)
}
