/**
 * @module The breached-password list, embedded so the check works offline (docs/decisions.md, "Password screening").
 *
 * The bulk is common-passwords.txt: the `passwords-common` dictionary of `@zxcvbn-ts/language-common`
 * (about 49,000 of the most frequent leaked passwords), folded and sorted, one entry a line, written by
 * `bun scripts/vendor-common-passwords.ts`. That dictionary is Copyright (c) 2012-2016 Dan Wheeler and
 * Dropbox, Inc. and Copyright (c) 2021 @zxcvbn-ts, under the MIT licence (the package's LICENSE.txt). It is
 * vendored rather than imported because the package decompresses all of its dictionaries when loaded, for
 * the one list used here; the text import below is embedded by `bun build --compile`.
 * The short list below adds what that dictionary leaves out on purpose (zxcvbn finds `aaaaaa` or `987654` by
 * shape instead) and service defaults (`postgres`, `changeme123`). Entries are folded like the candidate
 * (NFKC + case fold), so `Password1` and `PASSWORD1` are caught too. Short entries still matter: an app may
 * lower `password_min_length` to 8.
 *
 * The entries stay one string, searched in place (`isLine`): held as a Set of strings, the list cost about
 * 10 MiB of the server's idle RSS (docs/benchmarks.md). The file adds about 0.4 MB to the binary; the first
 * call folds the short list and counts the entries (~5 ms), and a lookup is a binary search of about 16
 * probes (a whole `isCommonPassword` with its variants, ~4 µs; see guessable.ts).
 */
import VENDORED from "./common-passwords.txt" with { type: "text" };

const LIST = `
123456 password 12345678 qwerty 123456789 12345 1234 111111 1234567 dragon
123123 baseball abc123 football monkey letmein 696969 shadow master 666666
qwertyuiop 123321 mustang 1234567890 michael 654321 superman 1qaz2wsx 7777777 121212
000000 qazwsx 123qwe killer trustno1 jordan jennifer zxcvbnm asdfgh hunter
buster soccer harley batman andrew tigger sunshine iloveyou 2000 charlie
robert thomas hockey ranger daniel starwars klaster 112233 george computer
michelle jessica pepper 1111 zxcvbn 555555 11111111 131313 freedom 777777
pass maggie 159753 aaaaaa ginger princess joshua cheese amanda summer
love ashley nicole chelsea biteme matthew access yankees 987654321 dallas
austin thunder taylor matrix mobilemail mom monitor monitoring montana moon moscow
william corvette hello martin heather secret merlin diamond 1234qwer gfhjkm
hammer silver 222222 88888888 anthony justin test bailey q1w2e3r4t5 patrick
internet scooter orange 11111 golfer cookie richard samantha bigdog guitar
jackson whatever mickey chicken sparky snoopy maverick phoenix camaro peanut
morgan welcome falcon cowboy ferrari samsung andrea smokey steelers joseph
mercedes dakota arsenal eagles melissa boomer booboo spider nascar monster
tigers yellow xxxxxx 123123123 gateway marina diablo bulldog qwer1234 compaq
purple hardcore banana junior hannah 123654 porsche lakers iceman money
cowboys 987654 london tennis 999999 ncc1701 coffee scooby 0000 miller
boston q1w2e3r4 brandon yamaha chester mother forever johnny edward 333333
oliver redsox player nikita knight fender barney midnight please brandy
chicago badboy slayer rangers charles angel flower rabbit wizard bigdick
jasper enter rachel chris steven winner adidas victoria natasha 1q2w3e4r
jasmine winter prince panties marine ghbdtn fishing cocacola casper james
232323 raiders 888888 marlboro gandalf asdfasdf crystal 87654321 12344321 golf
8675309 apple123 jesus1 jesus christ azerty qwerty123 password1 password123 password12
passw0rd p@ssword p@ssw0rd pa55word pa55w0rd admin admin123 administrator root toor
letmein1 welcome1 welcome123 iloveyou1 iloveyou2 abc1234 abcd1234 abcdef abcdefg abcdefgh
qwertyui qwerty1 qwerty12 qwe123 qweasd qweasdzxc 1qaz2wsx3edc zaq12wsx zaq1zaq1 !qaz2wsx
asdf asdf1234 asdfghjkl asd123 zxc123 zxcvbnm1 1q2w3e 1q2w3e4r5t 1q2w3e4r5t6y q1w2e3
000000000 0000000000 00000000 1111111 111111111 1111111111 1212 121212121 123 1234567891
12345678910 123456a 123456q 123456789a 12345a 12345q 123abc 123asd 123qweasd 147258369
147258 159357 159951 1598753 1q1q1q 2580 3333 4444 5555 6666 7777 8888 9999
a123456 a12345 aa123456 aaaaaaaa qqqqqq qqqqqqqq zzzzzz zzzzzzzz 741852963 789456123
789456 456789 147852369 123654789 963852741 321654 654321a 55555 444444 12341234
loveme lovely lover loveyou iloveu iloveyou! love123 lovers lol123 lollipop
football1 baseball1 soccer1 hockey1 basketball basketball1 letmein! monkey1 dragon1 master1
superman1 batman1 shadow1 sunshine1 princess1 charlie1 michael1 jordan23 jordan1 michael23
changeme changeme1 changeme123 default guest guest123 user user123 test123 test1 testing
testtest demo demo123 sample secret1 secret123 private hidden unknown nothing
login login123 logon access14 system system1 server oracle mysql postgres
database backup support service office office123 company business manager
qazxsw qazwsxedc wsxedc edcrfv rfvtgb tgbyhn yhnujm 1qazxsw2 2wsx3edc xsw2zaq1
starwars1 pokemon pokemon1 naruto minecraft fortnite roblox pikachu mario zelda
liverpool chelsea1 arsenal1 manchester barcelona realmadrid juventus football12 united soccer12
spiderman ironman hulk captain avengers thor wolverine deadpool joker gotham
blink182 metallica nirvana eminem beatles ronaldo messi beckham rooney zidane
google facebook twitter youtube linkedin yahoo hotmail gmail microsoft apple
windows windows7 linux ubuntu android iphone samsung1 nokia sony dell
password! password1! password2 password3 password11 password01 password99 passwords passport passwort
motdepasse contrasena contraseña senha parola passwort1 haslo salasana wachtwoord lozinka
qwertz qwertz123 azerty123 azertyuiop 1234abcd abcd123 abc12345 abc123456 1a2b3c 1a2b3c4d
aaaa aaaaa aaaaaaa aaa111 aa1234 a1b2c3 a1b2c3d4 a1s2d3f4 abcabc abc
asshole fuckyou fuckoff fuckme fucker shit bitch bastard pussy dick
sexy sex sexsex hottie hotdog cutie babygirl baby babyboy angel1
angels beautiful butterfly cupcake candy chocolate cookies cherry sweety sweetie
flower1 flowers daisy rose sunflower rainbow unicorn dolphin kitten kitty
puppy doggie dog cat tiger lion bear eagle shark wolf
horse dragons dragonball phoenix1 falcon1 hawk raven snake cobra viper
ginger1 pepper1 buster1 maggie1 bailey1 sophie molly lucky lucky1 max
jack jake charlie2 buddy buddy1 rocky rocky1 bandit bandit1 shadow12
summer1 winter1 spring autumn january february march april august october
november december monday friday sunday weekend holiday vacation christmas birthday
jessica1 ashley1 amanda1 nicole1 jennifer1 melissa1 michelle1 daniel1 andrew1 joshua1
anthony1 matthew1 robert1 thomas1 william1 james1 david david1 richard1 joseph1
justin1 brandon1 tyler austin1 ryan nathan kevin brian eric jason
alexander alexandra alex alex123 jonathan christopher christian nicholas benjamin samuel
elizabeth emily emma olivia sophia isabella madison abigail chloe grace
sarah sarah1 laura lauren hannah1 rachel1 rebecca stephanie vanessa veronica
heather1 amber crystal1 diamond1 silver1 golden gold money1 money123 cash
dollar million rich power power1 freedom1 liberty america usa123 texas
california florida newyork london1 paris berlin canada australia england
mexico brazil russia china japan india germany france italy spain
killer1 hunter1 hunter2 ranger1 soldier warrior ninja samurai knight1 legend
genius smart clever brain einstein newton tesla galaxy universe planet
matrix1 neo morpheus trinity zion hacker hack hacked hackme letmeinnow
trustme trustno1! believe faith hope peace heaven hell devil god
jesus123 blessed blessing lord savior amen church bible angel123 grace1
secure secure1 security safety protect protected shield fortress castle kingdom
king queen prince1 princess12 royal lady lord1 master12 boss chief
qwerty1234 qwerty12345 qwertyuiop123 1qaz 2wsx 1qaz1qaz qwe qweqwe qweqweqwe qwerqwer
asdasd asdasdasd zxczxc zxcasd zxcasdqwe asdzxc 123zxc 123456z 12345z zxcv
lol lmao haha hahaha hehe hello1 hello123 hellokitty helloworld hi
yes no ok okay good goodluck nice cool awesome great
happy happy1 smile funny crazy silly stupid dumb idiot loser
ilovemom ilovedad ilovegod iloveyou123 ilovehim iloveher loveyou1 mylove mybaby myself
family family1 friends friend bestfriend forever1 together always never whatever1
computer1 laptop desktop keyboard mouse monitor1 printer internet1 network wireless
wifi router modem cable online offline web website email mail
music music1 guitar1 piano drums rock rocknroll jazz blues dance
movie movies cinema star stars superstar rockstar popstar celebrity famous
game games gamer gaming player1 play playstation xbox xbox360 nintendo
sports sport runner running swimming tennis1 golf1 golfer1 hockey12 skater
car cars racing racer speed turbo honda toyota ford chevy
bmw audi porsche1 ferrari1 lamborghini mustang1 corvette1 camaro1 harley1 ducati
pizza burger hotdog1 cheese1 bacon pepsi coke sprite coffee1 tea
beer whiskey vodka wine party party1 drunk smoke weed 420420
blue blue123 red green black white orange1 purple1 pink yellow1
blue1 red123 green1 black1 white1 pink123 redred bluebird blackcat whitehorse
letmein123 letmein2 access1 enter1 enter123 open opensesame sesame door key
123456789q 1234567q 1234567a qwertyu qwertyuio q1w2e3r4t5y6 1q2w3e4r5 zaq1xsw2 1234zxcv
zxcvbnm123 asdfghjkl1 poiuytrewq mnbvcxz lkjhgfdsa 0987654321 987654321a 9876543210 54321 4321
trustnoone nopassword nopass nopassword1 mypassword mypass mypass123 yourpassword thepassword newpassword
newpass oldpassword password0 password9 password8 password7 password6 password5 password4 passpass
superuser sysadmin webadmin webmaster administrator1 admin1 admin12 admin1234 adminadmin root123
1234qwerasdf q1w2e3r4t5y6u7i8 1qa2ws3ed 123qwe123 qwe123qwe 123qweasdzxc 1q2w3e4r5t6y7u 12qwaszx 1qazxsw23edc ab123456
`;

/** NFKC then a case fold: upper-then-lower also folds `ß` to `ss` and a final sigma to sigma. */
export const foldPassword = (s: string) => s.normalize("NFKC").toUpperCase().toLowerCase();

/** Already folded: printable ASCII without capitals. Every entry today, so start-up skips the Unicode work. */
const FOLDED = /^[\x21-\x40\x5b-\x7e]*$/;

/**
 * True when `entry` is a line of `text`, whose lines are sorted by code unit and which ends in a newline: a
 * binary search over the characters, so the 49,000 entries never become 49,000 strings (as a Set they cost
 * 10–20 MiB of RSS, most of it allocator slack left behind by building them).
 */
function isLine(text: string, entry: string): boolean {
  let lo = 0; // lo is always the start of a line; the lines still in play start in [lo, hi)
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const start = text.lastIndexOf("\n", mid - 1) + 1;
    const end = text.indexOf("\n", start);
    const line = text.slice(start, end);
    if (line === entry) return true;
    if (line < entry) lo = end + 1;
    else hi = start;
  }
  return false;
}

/** The breached-password list: membership, size and the entries (for tests and tooling). */
export interface CommonPasswordList {
  has(folded: string): boolean;
  readonly size: number;
  [Symbol.iterator](): Iterator<string>;
}

let common: CommonPasswordList | undefined;
/** The folded breached-password list; the hand-kept additions are folded on the first call. */
export function commonPasswords(): CommonPasswordList {
  if (common) return common;
  const extra = new Set(
    LIST.split(/\s+/)
      .filter(Boolean)
      .map((p) => (FOLDED.test(p) ? p : foldPassword(p)))
      .filter((p) => !isLine(VENDORED, p)),
  );
  let lines = 0;
  for (let at = VENDORED.indexOf("\n"); at !== -1; at = VENDORED.indexOf("\n", at + 1)) lines++;
  common = {
    has: (folded) => extra.has(folded) || isLine(VENDORED, folded),
    size: lines + extra.size,
    *[Symbol.iterator]() {
      for (let at = 0; at < VENDORED.length; ) {
        const end = VENDORED.indexOf("\n", at);
        yield VENDORED.slice(at, end);
        at = end + 1;
      }
      yield* extra;
    },
  };
  return common;
}
