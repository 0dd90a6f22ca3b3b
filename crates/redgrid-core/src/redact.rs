//! Public summaries (公示内容): what the public lists, their exports, the public pages and Open311
//! show of a request instead of the resident's own words (docs/design/personal-data.md).
//!
//! [`redact`] writes the draft that staff read, correct and approve when they accept or resolve a
//! request: it removes what would identify a person — names (the ones the caller knows, and names
//! introduced by "我是…", "联系人…" or followed by 先生, 阿姨, 师傅 …), addresses finer than the
//! community (buildings, units, rooms, house numbers and the estate or road they belong to), and
//! phone, ID, bank-card and licence-plate numbers. It is a draft, not a guarantee: a person approves
//! it. [`holds_personal_number`] is the check an approved summary must still pass.

/// What a removed name, address, number or plate becomes.
pub const NAME: &str = "[姓名]";
pub const ADDRESS: &str = "[地址]";
pub const NUMBER: &str = "[号码]";
pub const PLATE: &str = "[车牌]";

/// The province abbreviations a mainland licence plate starts with.
const PLATE_PROVINCES: &str = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼";

/// Common surnames (single characters), for names followed by a form of address.
const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘\
                        蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺\
                        顾毛郝龚邵万钱严覃武戴莫孔汤温康施牛樊葛邢齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左\
                        柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾\
                        尤阳穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂佟臧闵苟邬边卞姬\
                        仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩佘池查麻苑迟邝";

/// Two-character surnames.
const COMPOUND_SURNAMES: &[&str] = &[
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "夏侯", "令狐",
];

/// Forms of address that follow a surname: 张先生, 李阿姨, 王师傅.
const ADDRESS_FORMS: &[&str] = &[
    "先生", "女士", "小姐", "阿姨", "大爷", "大妈", "大娘", "奶奶", "爷爷", "师傅", "老师", "同志",
    "大姐", "大哥", "老人", "老太", "老伯", "伯伯", "叔叔", "婶婶", "姐", "哥",
];

/// Words that introduce a person's name: 我是王小明, 联系人：李四.
const NAME_CUES: &[&str] = &[
    "我是",
    "我叫",
    "本人",
    "姓名",
    "名叫",
    "联系人",
    "报修人",
    "反映人",
    "申请人",
    "户主",
    "业主",
];

/// Words after a number that make it part of an address, longest first.
const ADDRESS_UNITS: &[&str] = &[
    "号楼", "号院", "单元", "栋", "幢", "座", "室", "号", "楼", "层", "弄", "巷", "排",
];

/// The endings of an estate, road or building name placed right before a house number.
const PLACE_SUFFIXES: &[&str] = &[
    "小区", "花园", "家园", "公寓", "大厦", "新村", "新苑", "社区", "苑", "园", "里", "村", "庄",
    "府", "城", "湾", "居", "坊", "街", "路", "道", "巷", "胡同", "大院", "院", "区",
];

/// Characters that end a walk back from a house number to the place name before it.
const PLACE_STOPS: &str = "住在于到的是我家他她其位";

fn is_cjk(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c)
}

/// An ASCII or full-width digit's value.
fn digit(c: char) -> Option<u32> {
    match c {
        '0'..='9' => Some(c as u32 - '0' as u32),
        '０'..='９' => Some(c as u32 - '０' as u32),
        _ => None,
    }
}

fn is_digit(c: char) -> bool {
    digit(c).is_some()
}

fn is_cn_numeral(c: char) -> bool {
    "一二三四五六七八九十百零〇两".contains(c)
}

fn starts_with(chars: &[char], at: usize, word: &str) -> bool {
    let n = word.chars().count();
    chars
        .get(at..at + n)
        .is_some_and(|s| s.iter().copied().eq(word.chars()))
}

/// The surname at `i` (one character, or two for 欧阳, 司马 …): its length.
fn surname_at(chars: &[char], i: usize) -> Option<usize> {
    COMPOUND_SURNAMES
        .iter()
        .find(|s| starts_with(chars, i, s))
        .map(|s| s.chars().count())
        .or_else(|| chars.get(i).filter(|c| SURNAMES.contains(**c)).map(|_| 1))
}

/// The length of a run of digits that could identify a person starting at `i` (a phone, ID or
/// bank-card number: 7 or more digits, in groups of 3 or more after a single space, dash, dot or slash, an ID's
/// final X), or 0.
fn number_at(chars: &[char], i: usize) -> usize {
    let digits_from = |k: usize| chars[k..].iter().take_while(|c| is_digit(**c)).count();
    if i >= chars.len() || !is_digit(chars[i]) || (i > 0 && is_digit(chars[i - 1])) {
        return 0;
    }
    let mut end = i + digits_from(i);
    let mut digits = end - i;
    while digits >= 3
        && end + 1 < chars.len()
        && matches!(chars[end], '-' | ' ' | '－' | '.' | '\u{3000}' | '·' | '/')
    {
        let next = digits_from(end + 1);
        if next < 3 {
            break;
        }
        digits += next;
        end += 1 + next;
    }
    if digits == 17 && matches!(chars.get(end), Some('X' | 'x')) {
        end += 1;
        digits += 1;
    }
    if digits >= 7 { end - i } else { 0 }
}

/// Whether `text` still holds a number that could be a phone, ID or bank-card number.
pub fn holds_personal_number(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    (0..chars.len()).any(|i| number_at(&chars, i) > 0)
}

/// The length of a licence plate starting at `i` (京A12345, 津A·D1234), or 0.
fn plate_at(chars: &[char], i: usize) -> usize {
    if !chars.get(i).is_some_and(|c| PLATE_PROVINCES.contains(*c)) {
        return 0;
    }
    let mut j = i + 1;
    if !chars.get(j).is_some_and(|c| c.is_ascii_uppercase()) {
        return 0;
    }
    j += 1;
    if matches!(chars.get(j), Some('·' | ' ' | '-')) {
        j += 1;
    }
    let tail = chars[j.min(chars.len())..]
        .iter()
        .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        .count();
    if (5..=6).contains(&tail) && chars[j..j + tail].iter().any(|c| c.is_ascii_digit()) {
        j + tail - i
    } else {
        0
    }
}

/// A number (digits or Chinese numerals) at `i`: its length, or 0.
fn numeral_at(chars: &[char], i: usize) -> usize {
    let n = chars[i..]
        .iter()
        .take_while(|c| is_digit(**c) || c.is_ascii_uppercase())
        .count();
    if n > 0 && is_digit(chars[i]) {
        return n;
    }
    chars[i..].iter().take_while(|c| is_cn_numeral(**c)).count()
}

/// The address unit word at `i` (号楼, 单元, 室 …): its length, or 0.
fn unit_at(chars: &[char], i: usize) -> usize {
    ADDRESS_UNITS
        .iter()
        .find(|u| starts_with(chars, i, u))
        .map_or(0, |u| u.chars().count())
}

/// The end of an address starting with a number at `i` (3号楼2单元501, 5-2-301, 十二栋), or None
/// when what starts there is no address. A floor alone (三楼, 5层) is not one, nor is a date (10月5号,
/// 2026-10-05).
fn address_end(chars: &[char], i: usize) -> Option<usize> {
    if i > 0 && chars[i - 1] == '月' {
        return None;
    }
    let mut j = i;
    let (mut units, mut strong, mut groups, mut room) = (0, 0, 0, false);
    loop {
        let n = numeral_at(chars, j);
        if n == 0 {
            break;
        }
        let u = unit_at(chars, j + n);
        if u > 0 {
            units += 1;
            if !matches!(chars[j + n], '楼' | '层') || u > 1 {
                strong += 1;
            }
            j += n + u;
        } else if units > 0 && chars[j..j + n].iter().all(|c| is_digit(*c)) {
            // A bare room number after a unit: 2单元501.
            j += n;
            room = true;
            break;
        } else if units == 0
            && matches!(chars.get(j + n), Some('-' | '－'))
            && chars.get(j + n + 1).is_some_and(|c| is_digit(*c))
        {
            // 5-2-301: groups joined by dashes, the first short (a year is no building).
            if groups == 0 && n > 3 {
                return None;
            }
            j += n + 1;
            groups += 1;
            continue;
        } else {
            if units == 0 {
                j += n;
                groups += 1;
            }
            break;
        }
        if matches!(chars.get(j), Some('-' | '－' | ' ')) {
            j += 1;
        }
    }
    while j > i && matches!(chars[j - 1], '-' | '－' | ' ') {
        j -= 1;
    }
    (strong > 0 || (units > 0 && room) || groups >= 3).then_some(j)
}

/// Where the estate, road or building name before an address at `i` begins (幸福里 in
/// 住幸福里3号楼): `i` when there is none.
fn place_start(chars: &[char], i: usize) -> usize {
    let mut k = i;
    while k > 0 && i - k < 10 && is_cjk(chars[k - 1]) && !PLACE_STOPS.contains(chars[k - 1]) {
        k -= 1;
    }
    let name: String = chars[k..i].iter().collect();
    let after_cue = k > 0 && "住在于".contains(chars[k - 1]);
    if name.chars().count() >= 2 && (after_cue || PLACE_SUFFIXES.iter().any(|s| name.ends_with(s)))
    {
        k
    } else {
        i
    }
}

/// The length of a name introduced at `i` by a cue (我是, 联系人 …), after an optional colon.
fn cued_name_at(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let cue = NAME_CUES.iter().find(|c| starts_with(chars, i, c))?;
    let mut j = i + cue.chars().count();
    if matches!(chars.get(j), Some(':' | '：' | ' ')) {
        j += 1;
    }
    let surname = surname_at(chars, j)?;
    // A given name of one or two characters; the second only when it is not a word that follows
    // a name (我是王明，住… / 我是王小明住…).
    let mut len = surname;
    for _ in 0..2 {
        match chars.get(j + len) {
            Some(&c) if is_cjk(c) && !"住在的是家和也今已于，,。".contains(c) => {
                len += 1
            }
            _ => break,
        }
    }
    (len > surname).then_some((j, len))
}

/// A surname followed by a form of address at `i` (张师傅, 欧阳阿姨): the surname's length.
fn addressed_surname_at(chars: &[char], i: usize) -> Option<usize> {
    let surname = surname_at(chars, i)?;
    ADDRESS_FORMS
        .iter()
        .any(|f| starts_with(chars, i + surname, f))
        .then_some(surname)
}

fn push(out: &mut String, marker: &str) {
    if !out.ends_with(marker) {
        out.push_str(marker);
    }
}

/// The draft public summary of `text`: names in `names` (two characters or more) and the names,
/// addresses, numbers and plates the rules above find are replaced by [`NAME`], [`ADDRESS`],
/// [`NUMBER`] and [`PLATE`] (a surname before a form of address by 某: 张师傅 → 某师傅).
pub fn redact(text: &str, names: &[&str]) -> String {
    let chars: Vec<char> = text.trim().chars().collect();
    let known: Vec<Vec<char>> = names
        .iter()
        .map(|n| n.trim().chars().collect::<Vec<char>>())
        .filter(|n| n.len() >= 2)
        .collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if let Some(n) = known.iter().find(|n| chars[i..].starts_with(n)) {
            push(&mut out, NAME);
            i += n.len();
            continue;
        }
        let plate = plate_at(&chars, i);
        if plate > 0 {
            push(&mut out, PLATE);
            i += plate;
            continue;
        }
        let number = number_at(&chars, i);
        if number > 0 {
            push(&mut out, NUMBER);
            i += number;
            continue;
        }
        if (is_digit(chars[i]) || is_cn_numeral(chars[i]))
            && (i == 0 || !(is_digit(chars[i - 1]) || chars[i - 1].is_ascii_alphabetic()))
            && let Some(end) = address_end(&chars, i)
        {
            // Take back the estate or road already copied out (幸福里, 红旗路).
            let start = place_start(&chars, i);
            let place: String = chars[start..i].iter().collect();
            if let Some(kept) = out.strip_suffix(place.as_str()) {
                out.truncate(kept.len());
            }
            push(&mut out, ADDRESS);
            i = end;
            continue;
        }
        if let Some((at, len)) = cued_name_at(&chars, i) {
            out.extend(&chars[i..at]);
            push(&mut out, NAME);
            i = at + len;
            continue;
        }
        if (i == 0 || !SURNAMES.contains(chars[i - 1]))
            && let Some(len) = addressed_surname_at(&chars, i)
        {
            out.push('某');
            i += len;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issues_example_loses_the_name_and_the_address() {
        assert_eq!(
            redact("我是王小明，住幸福里3号楼2单元501，楼道灯坏了", &[]),
            "我是[姓名]，住[地址]，楼道灯坏了"
        );
    }

    #[test]
    fn known_names_numbers_and_plates_go() {
        assert_eq!(
            redact("请张三回电13812345678或022-23456789", &["张三"]),
            "请[姓名]回电[号码]或[号码]"
        );
        assert_eq!(
            redact("身份证11010119900307123x，银行卡6222 0202 0000 1234", &[]),
            "身份证[号码]，银行卡[号码]"
        );
        assert_eq!(
            redact("津A12345长期占用消防通道", &[]),
            "[车牌]长期占用消防通道"
        );
        assert_eq!(redact("京A·D1234停在门口", &[]), "[车牌]停在门口");
    }

    #[test]
    fn addresses_finer_than_the_community_go_and_the_rest_stays() {
        assert_eq!(redact("红旗路12号门前积水", &[]), "[地址]门前积水");
        assert_eq!(redact("5-2-301漏水到楼下", &[]), "[地址]漏水到楼下");
        assert_eq!(redact("家住十二栋三单元", &[]), "家住[地址]");
        assert_eq!(redact("阳光花园7幢电梯坏了", &[]), "[地址]电梯坏了");
        // Dates, counts, times and the community's own name stay.
        assert_eq!(
            redact("2026-10-05起已停水3天，共12户受影响，幸福里社区", &[]),
            "2026-10-05起已停水3天，共12户受影响，幸福里社区"
        );
        assert_eq!(redact("晚上8点后噪音大", &[]), "晚上8点后噪音大");
    }

    #[test]
    fn names_with_a_cue_or_a_form_of_address_go() {
        assert_eq!(
            redact("联系人：李四，电话见上", &[]),
            "联系人：[姓名]，电话见上"
        );
        assert_eq!(
            redact("张师傅已上门修好，李阿姨很满意", &[]),
            "某师傅已上门修好，某阿姨很满意"
        );
        assert_eq!(redact("欧阳先生反映", &[]), "某先生反映");
        // Words that only look like a surname before a form of address are left.
        assert_eq!(redact("物业师傅已修好", &[]), "物业师傅已修好");
    }

    #[test]
    fn a_draft_holds_no_personal_number() {
        for text in [
            "我是王小明，电话13812345678，住幸福里3号楼2单元501",
            "卡号 6222-0202-0000-1234，车牌苏E12345",
            "１３８１２３４５６７８ 全角号码",
        ] {
            let draft = redact(text, &[]);
            assert!(!holds_personal_number(&draft), "{text} → {draft}");
        }
        assert!(holds_personal_number("请拨 138 1234 5678"));
        assert!(holds_personal_number("138.1234.5678"));
        assert!(holds_personal_number("138\u{3000}1234\u{3000}5678"));
        assert!(!holds_personal_number("192.168.1.1 与 3.14"));
        assert!(holds_personal_number("全角１３８１２３４５６７８"));
        assert!(!holds_personal_number("2026-10-05 三天 12户"));
    }
}
