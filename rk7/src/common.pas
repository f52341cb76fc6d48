{ ===========================================================================
  Общая часть скриптов SMS PDS (встроена в каждый скрипт при сборке: npm run rk7).
  Меняйте только константы ниже: адрес сервиса, ключ, имя кассы, устройство MCR.
  =========================================================================== }
const
  SMSPDS_URL      = 'http://192.168.0.10:8080/api/v1';  { адрес сервиса SMS PDS }
  SMSPDS_TOKEN    = 'ter_ВСТАВЬТЕ_КЛЮЧ_ТЕРМИНАЛА';      { ключ роли terminal }
  TERMINAL_ID     = 'CASH1';                            { имя этой кассы в журналах }
  MCR_DEVICE_ID   = 0;                                  { код устройства для MCR-алгоритма ПДС, см. ниже }

{ MCR_DEVICE_ID — код устройства этой кассы (тип «Клавиатура» или «Магнитная карта»), к которому
  в менеджерской станции привязан MCR-алгоритм ПДС типа «Masked Input»: его видно в свойствах
  устройства кассы. С неверным кодом карта не применится сама, и кассир увидит номер карты,
  чтобы ввести его через «Код с клавиатуры». }

{ Кодирует строку для application/x-www-form-urlencoded: каждый байт её UTF-8, кроме букв
  латиницы, цифр и «-._», пишется как %XX (кириллица — два байта, два %XX). }
function UrlEncode(const S: string): string;
var
  U: utf8string;
  i, b: integer;
begin
  Result := '';
  U := UTF8Encode(S);
  for i := 1 to Length(U) do
  begin
    b := Ord(U[i]);
    if ((b >= Ord('a')) and (b <= Ord('z'))) or ((b >= Ord('A')) and (b <= Ord('Z'))) or
      ((b >= Ord('0')) and (b <= Ord('9'))) or (b = Ord('-')) or (b = Ord('.')) or (b = Ord('_')) then
      Result := Result + Chr(b)
    else
      Result := Result + '%' + IntToHex(b, 2);
  end;
end;

{ Значение name=value из ответа сервиса (ответы в формате key=value). }
function KvValue(const Answer, Name: string): string;
var
  sl: TStringList;
begin
  sl := TStringList.Create;
  try
    sl.Text := Answer;
    Result := sl.Values[Name];
  finally
    sl.Free;
  end;
end;

{ POST на сервис: ключ в заголовке, ответ key=value. Возвращает HTTP-статус (0 — нет связи). }
function CallSmsPds(const Path, Body: string; var Answer: string): integer;
var
  res: utf8string;
begin
  res := '';
  HTTP.ClearHeaders;
  HTTP.AddHeader('Authorization', 'Bearer ' + SMSPDS_TOKEN);
  HTTP.AddHeader('Accept', 'text/plain');
  HTTP.ContentType := 'application/x-www-form-urlencoded';
  HTTP.Charset := 'utf-8';
  Result := HTTP.Post(SMSPDS_URL + Path + '?format=kv', Body + '&terminal=' + UrlEncode(TERMINAL_ID), res);
  Answer := UTF8Decode(res);
  if Result = 0 then
    Answer := 'status=error' + #13#10 + 'code=NO_CONNECTION' + #13#10 + 'message=Нет связи с сервисом SMS PDS: ' + HTTP.GetLastError;
end;

{ Сообщение кассиру по ответу с ошибкой: свой текст для частых случаев, иначе текст сервиса. }
procedure ShowSmsPdsError(const Answer: string);
var
  code, msg: string;
begin
  code := KvValue(Answer, 'code');
  msg := KvValue(Answer, 'message');
  if code = 'NO_CONNECTION' then msg := msg + #13#10 + 'Проверьте, что сервис запущен, и сеть до него.'
  else if code = 'UNAUTHORIZED' then msg := 'Неверный ключ SMS PDS в скрипте. Обратитесь к администратору.'
  else if code = 'FORBIDDEN' then msg := 'Ключ SMS PDS в скрипте не подходит для кассы (нужна роль terminal).'
  else if code = 'PHONE_INVALID' then msg := 'Неверный номер телефона. Введите 11 цифр, например 79161234567.'
  else if code = 'PHONE_COUNTRY_NOT_ALLOWED' then msg := 'Номера этой страны не обслуживаются.'
  else if code = 'CARD_NOT_FOUND' then msg := 'Карта не найдена. Проверьте номер или выдайте гостю карту.'
  else if code = 'CARD_BLOCKED' then msg := 'Карта гостя заблокирована.'
  else if code = 'CARD_EXPIRED' then msg := 'Срок действия карты гостя истёк.'
  else if code = 'PHONE_NOT_MOBILE' then msg := 'На этот номер нельзя отправить СМС. Нужен мобильный номер гостя.'
  else if code = 'PHONE_BUSY' then msg := 'Код на этот номер уже отправляется с другой кассы. Повторите через ' + KvValue(Answer, 'retryAfter') + ' с.'
  else if code = 'CONFIRMATION_REQUIRED' then msg := 'Телефон гостя нужно подтвердить кодом из СМС.'
  else if code = 'PD_CONSENT_REQUIRED' then msg := 'Нужно согласие гостя на обработку персональных данных.'
  else if code = 'STORE_UNAVAILABLE' then msg := 'Сервис SMS PDS не может сохранить данные (диск). Повторите позже и сообщите администратору.'
  else if code = 'CHANNEL_DISABLED' then msg := 'Авторизация без СМС в этом заведении не разрешена.'
  else if code = 'RATE_LIMITED' then msg := 'Слишком много попыток. Повторите через ' + KvValue(Answer, 'retryAfter') + ' с.'
  else if code = 'SMS_FAILED' then msg := 'СМС не отправлено. Попробуйте ещё раз или обратитесь в поддержку.'
  else if code = 'PIN_INVALID' then msg := 'Неверный код. Осталось попыток: ' + KvValue(Answer, 'attemptsLeft')
  else if code = 'SESSION_LOCKED' then msg := 'Слишком много неверных кодов. Начните заново.'
  else if code = 'SESSION_EXPIRED' then msg := 'Время действия кода истекло. Начните заново.'
  else if code = 'SESSION_CLOSED' then msg := 'Эта авторизация уже завершена.'
  else if code = 'SESSION_NOT_FOUND' then msg := 'Авторизация не найдена. Начните заново.'
  else if code = 'RESEND_TOO_SOON' then msg := 'Повторная СМС возможна через ' + KvValue(Answer, 'retryAfter') + ' с.'
  else if code = 'RESEND_LIMIT' then msg := 'Больше СМС отправить нельзя. Начните заново.'
  else if code = 'CARD_ALREADY_ACTIVE' then msg := 'Эта карта уже выдана.'
  else if code = 'PHONE_ALREADY_REGISTERED' then msg := 'На этот телефон уже выдана карта.'
  else if code = 'POOL_EMPTY' then msg := 'Нет свободных виртуальных карт. Обратитесь к администратору.'
  else if code = 'VALIDATION_FAILED' then msg := 'Проверьте введённые данные: ' + msg
  else if msg = '' then msg := 'Ошибка SMS PDS: ' + code;
  gui.ShowMessage(msg);
end;

{ Кассир не ввёл код: 1 — отправить СМС ещё раз, 2 — отменить (вопрос CancelQuestion),
  0 — вернуться к вводу кода. Два вопроса «Да/Нет» вместо одного окна с тремя кнопками. }
function AskNoCodeAction(const CancelQuestion: string): integer;
begin
  if gui.RKMessageDlg('Код не введён. Отправить СМС ещё раз?', mtConfirmation, [mbYes, mbNo], 0) = mrYes then
    Result := 1
  else if gui.RKMessageDlg(CancelQuestion, mtConfirmation, [mbYes, mbNo], 0) = mrYes then
    Result := 2
  else
    Result := 0;
end;

{ Передаёт номер карты в ПДС как ввод с клавиатуры (MCR-алгоритм «Masked Input»). }
procedure ApplyCardToOrder(const Card, Holder: string);
begin
  if not RK7.PerformMcrAlgorith(Card, MCR_DEVICE_ID) then
    gui.ShowMessage('Карта гостя: ' + Card + #13#10 + Holder + #13#10 + 'Введите номер карты вручную: «Код с клавиатуры».')
  else
    gui.ShowMessage('Карта ' + Card + ' применена к заказу.' + #13#10 + Holder);
end;
